// Package tracerd is podprof's tracer process and its clients: one process
// per host and podprof build loads the BPF programs (package bpf), watches
// every traced container and writes each one's profile when it ends. The
// OCI hook and podprof run talk to it over a unix socket (package hook,
// the protocol's client side).
package tracerd

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/syslog"
	"maps"
	"net"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podprof/podprof/bpf"
	"github.com/podprof/podprof/podmancmd"
	"github.com/podprof/podprof/report"
	"github.com/podprof/podprof/tracerd/hook"
)

// One tracer process serves every traced container on the host: loading
// the BPF programs costs far more than watching one more namespace, and
// the kernel side already filters by a set of namespaces. It is started on
// demand and exits once nothing has been traced, and nobody has held it,
// for the idle time (podmancmd.IdleTime), its programs detached meanwhile.

// The tracer of this podprof build.
var tracerSocket, tracerLock = hook.OwnTracerFiles()

// takeTracerLock makes this process the tracer: it returns the lock, held,
// or nil once another tracer serves. The lock's holder is a tracer that
// serves, starts (its socket not yet there: it soon will, so a client
// that raced it need not wait for the lock) or exits (its socket gone:
// the lock is soon free, though its file may be removed and a new one
// made meanwhile, which is then the one to hold).
func takeTracerLock(wait time.Duration) (*os.File, error) {
	deadline := time.Now().Add(wait)
	for {
		lock, err := os.OpenFile(tracerLock, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("opening %s: %w", tracerLock, err)
		}
		if unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			held, errHeld := lock.Stat()
			named, errNamed := os.Stat(tracerLock)
			if errHeld == nil && errNamed == nil && os.SameFile(held, named) {
				return lock, nil
			}
			lock.Close() // removed by a tracer on its way out
			continue
		}
		lock.Close()
		if _, err := os.Stat(tracerSocket); err == nil || time.Now().After(deadline) {
			return nil, nil // another tracer serves, or is about to
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tracerd is the tracer process.
type tracerd struct {
	tracer   *bpf.Tracer
	listener net.Listener
	log      *syslog.Writer

	idle  time.Duration // how long it lingers with no holder
	timer *time.Timer   // ends the linger

	mu        sync.Mutex
	holders   int // open connections and watched containers
	idleSince time.Time
	closing   bool // idle for the idle time: the tracer serves no new client
	// tracing counts the watched containers per profile path; finished
	// is signalled each time one's profile is done.
	tracing  map[string]int
	finished *sync.Cond
}

// Daemon is the tracer process. It tells whoever started it, on fd 3,
// "ok" once it serves or the reason it can't.
func Daemon(modeName string) int {
	ready := podmancmd.Detached()
	fail := func(err error) int {
		fmt.Fprintln(ready, err)
		return 1
	}
	mode, err := bpf.ParseMode(modeName)
	if err != nil {
		return fail(err)
	}
	idle, err := podmancmd.IdleTime()
	if err != nil {
		return fail(err)
	}
	// A process that lives beside every traced container keeps its heap
	// close to what it holds: the recorded files.
	debug.SetGCPercent(25)
	if err := os.MkdirAll(hook.TracerDir, 0o700); err != nil {
		return fail(fmt.Errorf("creating %s: %w", hook.TracerDir, err))
	}
	lock, err := takeTracerLock(2 * time.Second)
	if err != nil {
		return fail(err)
	}
	if lock == nil {
		ready.Close() // another tracer serves
		return 0
	}
	defer lock.Close()
	tracer, err := bpf.New(mode)
	if err != nil {
		return fail(err)
	}
	defer tracer.Close()
	os.Remove(tracerSocket) // a dead tracer's; we hold the lock
	listener, err := net.Listen("unix", tracerSocket)
	if err != nil {
		return fail(fmt.Errorf("listening on %s: %w", tracerSocket, err))
	}
	d := newTracerd(tracer, listener, idle)
	go d.exitOnSignal()
	fmt.Fprintln(ready, "ok")
	ready.Close()
	d.serve()
	// Removed while still locked: whoever opens the old lock file now
	// finds it locked and leaves the serving to the tracer that made a
	// new one.
	os.Remove(tracerSocket)
	os.Remove(tracerLock)
	return 0
}

// exitOnSignal ends the tracer process when it is stopped from outside
// (kill, a shutdown) without leaving its socket or lock behind: the next
// client starts a new tracer at once. The containers it watched go on
// untraced, and the log says whose profiles are not written.
func (d *tracerd) exitOnSignal() {
	sig := (<-podmancmd.StopSignals()).(syscall.Signal)
	d.mu.Lock()
	d.closing = true
	d.listener.Close() // and its socket
	unwritten := slices.Sorted(maps.Keys(d.tracing))
	d.mu.Unlock()
	os.Remove(tracerLock) // still locked: see Daemon
	if len(unwritten) > 0 && d.log != nil {
		d.log.Err(fmt.Sprintf("stopped by %s: these profiles are not written: %s", sig, report.Printable(strings.Join(unwritten, ", "))))
	}
	os.Exit(128 + int(sig))
}

// newTracerd serves the tracer's clients on listener; it lingers for
// idle after its last holder (the tracer process; the service is held for
// good).
func newTracerd(tracer *bpf.Tracer, listener net.Listener, idle time.Duration) *tracerd {
	d := &tracerd{tracer: tracer, listener: listener, idle: idle, tracing: make(map[string]int)}
	d.finished = sync.NewCond(&d.mu)
	d.log, _ = syslog.New(syslog.LOG_DAEMON|syslog.LOG_WARNING, "podprof")
	d.timer = time.AfterFunc(time.Hour, d.expire)
	d.timer.Stop()
	return d
}

// serve answers clients until nothing is traced and nobody holds the
// tracer.
func (d *tracerd) serve() {
	var wg sync.WaitGroup
	// Whoever started us connects right after "ok": hold until then, or
	// for a while if it died meanwhile.
	var spawnerArrived sync.Once
	d.hold()
	go func() {
		time.Sleep(10 * time.Second)
		spawnerArrived.Do(d.release)
	}()
	for {
		conn, err := d.listener.Accept()
		if err != nil {
			break // closed by release, the last one out
		}
		if err := d.hold(); err != nil {
			// Accepted as the tracer closes: the client sees the
			// connection close and starts a new tracer.
			conn.Close()
			continue
		}
		spawnerArrived.Do(d.release)
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.handle(conn)
		}()
	}
	wg.Wait()
}

// errClosing refuses a client that came as the tracer closes.
var errClosing = errors.New("the tracer is closing")

// hold counts one more reason to stay, unless the tracer is closing; the
// first one after an idle time attaches the programs again.
func (d *tracerd) hold() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closing {
		return errClosing
	}
	if d.holders == 0 {
		d.timer.Stop()
		if err := d.tracer.Attach(); err != nil {
			// Nothing can be traced: leave it to a new tracer.
			d.closing = true
			d.listener.Close()
			return err
		}
	}
	d.holders++
	return nil
}

// release counts one reason less; with none left, the programs are
// detached and the tracer lingers for the idle time.
func (d *tracerd) release() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.holders--; d.holders == 0 {
		d.tracer.Detach()
		d.idleSince = time.Now()
		d.timer.Reset(d.idle)
	}
}

// expire ends the tracer if it is still idle.
func (d *tracerd) expire() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.holders == 0 && !d.closing && time.Since(d.idleSince) >= d.idle {
		d.closing = true
		d.listener.Close()
	}
}

func (d *tracerd) handle(conn net.Conn) {
	defer conn.Close()
	defer d.release()
	var req hook.Request
	if err := json.NewDecoder(conn).Decode(&req); err != nil {
		return
	}
	reply := func(err error) {
		r := hook.Reply{Mode: string(d.tracer.Mode())}
		if err != nil {
			r.Error = err.Error()
		}
		json.NewEncoder(conn).Encode(r)
	}
	if want, _ := bpf.ParseMode(req.Mode); want != "" && want != d.tracer.Mode() {
		reply(fmt.Errorf("the running podprof tracer uses mode %s, not %s: wait until its containers end", d.tracer.Mode(), want))
		return
	}
	switch {
	case req.Hold:
		reply(nil)
		// Held until the client closes the connection.
		conn.Read(make([]byte, 1))
	case req.Watch != nil:
		ctr, started, syscalls, err := d.watch(req.Watch)
		if err == nil {
			d.hold() // cannot fail: this connection holds the tracer
			d.mu.Lock()
			d.tracing[req.Watch.Annotations[hook.ProfileAnnotation]]++
			d.mu.Unlock()
			go d.finish(req.Watch, ctr, started, syscalls)
		}
		reply(err)
	case req.Await != "":
		d.mu.Lock()
		for d.tracing[req.Await] > 0 {
			d.finished.Wait()
		}
		d.mu.Unlock()
		reply(nil)
	default:
		reply(errors.New("empty request"))
	}
}

func (d *tracerd) watch(state *rspec.State) (*bpf.Container, time.Time, *seccompRequest, error) {
	if err := CheckOutputPath(state.Annotations[hook.ProfileAnnotation]); err != nil {
		return nil, time.Time{}, nil, err
	}
	syscalls, err := checkSeccomp(state.Annotations)
	if err != nil {
		return nil, time.Time{}, nil, err
	}
	if state.Pid <= 0 {
		return nil, time.Time{}, nil, errors.New("the container state has no pid: run the hook at the prestart or createRuntime stage")
	}
	started := time.Now()
	ctr, err := d.tracer.Watch(state.Pid, syscalls.options()...)
	return ctr, started, syscalls, err
}

// finish writes the container's profile, and its seccomp profile if asked,
// once its init has exited, if its command ever ran.
func (d *tracerd) finish(state *rspec.State, ctr *bpf.Container, started time.Time, syscalls *seccompRequest) {
	defer d.release()
	output := state.Annotations[hook.ProfileAnnotation]
	defer func() {
		d.mu.Lock()
		if d.tracing[output]--; d.tracing[output] == 0 {
			delete(d.tracing, output)
		}
		d.finished.Broadcast()
		d.mu.Unlock()
	}()
	res, err := ctr.Wait(context.Background())
	if err == nil {
		err = writeProfiles(state, newRecords(d.tracer.Mode(), res, started), syscalls, d.log)
	}
	if err != nil && d.log != nil {
		d.log.Err(fmt.Sprintf("container %s: %v", state.ID, err))
	}
}

// runRecord is the RunAnnotation's record; nil when there is none, or when
// it is not one (whoever started the container set it): the profile is
// still right without it.
func runRecord(annotation string) *report.RunRecord {
	data, err := base64.StdEncoding.DecodeString(annotation)
	if err != nil || len(data) == 0 {
		return nil
	}
	var r report.RunRecord
	if json.Unmarshal(data, &r) != nil || r.Image == "" {
		return nil
	}
	return &r
}
