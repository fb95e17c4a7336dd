package tracerd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/user"
	"strconv"
	"sync"
	"time"

	"github.com/podprof/podprof/bpf"
	"github.com/podprof/podprof/podmancmd"
	"github.com/podprof/podprof/tracerd/hook"
)

// The tracer service (`podprof tracer`) is the tracer process run by root
// for good, on a socket that unprivileged users may connect to: rootless
// podman's hooks and podprof run talk to it. Root's clients are served as
// by the on-demand tracer. Any other client may only watch its own
// rootless containers (authorizeWatch), within per-uid limits, and gets
// the records over the connection to write the profile itself: the
// service never opens a path a user named.

// UserLimits bound what one unprivileged uid may hold of the service, so
// that no user can exhaust it for the others.
type UserLimits struct {
	Connections int // open at once
	Containers  int // watched at once; each holds a 2 MB kernel map
	Files       int // distinct paths recorded over its watched containers
}

// DefaultUserLimits are `podprof tracer`'s defaults.
var DefaultUserLimits = UserLimits{Connections: 64, Containers: 16, Files: 1_000_000}

// ServiceConfig is how `podprof tracer` serves.
type ServiceConfig struct {
	Socket     string
	SocketMode os.FileMode // the socket file's permissions, unless systemd made it
	Group      string      // the socket file's group, "" root's
	Mode       string      // tracer mode: auto, lsm, fentry, tracepoint
	Limits     UserLimits
}

// service is the tracer process serving for good.
type service struct {
	*tracerd
	limits UserLimits

	mu      sync.Mutex
	changed *sync.Cond // a watch of some user ended
	users   map[uint32]*userUsage
}

// userUsage is what one unprivileged uid holds of the service.
type userUsage struct {
	connections int
	containers  int // watched or being checked
	watches     map[*bpf.Container]bool
	// awaited counts the uid's watches per profile path, as its clients
	// named it: a key only, never opened.
	awaited map[string]int
}

// ServiceStatus is what the service holds for the uid that asks: the
// answer to a status request.
type ServiceStatus struct {
	Mode        string `json:"mode"`
	Connections int    `json:"connections"` // this one included
	Watches     int    `json:"watches"`
}

// serviceRequest is a hook.Request, or a status request.
type serviceRequest struct {
	hook.Request
	Status bool `json:"status,omitempty"`
}

// recordsMessage is the line a watching client gets when its container
// ended: the records, or why there are none.
type recordsMessage struct {
	Records *records `json:"records,omitempty"`
	Error   string   `json:"error,omitempty"`
}

// Limits on a client that may be hostile: its request must come soon and
// be small; when its records are sent it must read them soon, and close
// the connection once it wrote them.
const (
	requestTimeout  = 10 * time.Second
	maxRequestBytes = 1 << 20
	recordsTimeout  = 30 * time.Second
)

// Serve is `podprof tracer`: it loads the tracer and serves until SIGTERM
// or SIGINT. It logs each refusal on stderr (the journal, under systemd).
func Serve(cfg ServiceConfig) error {
	mode, err := bpf.ParseMode(cfg.Mode)
	if err != nil {
		return err
	}
	listener, ours, err := serviceListener(cfg)
	if err != nil {
		return err
	}
	if ours {
		defer os.Remove(cfg.Socket)
	}
	tracer, err := bpf.New(mode)
	if err != nil {
		listener.Close()
		return err
	}
	defer tracer.Close()
	d := newTracerd(tracer, listener, 0)
	d.hold() // never released: the service does not end with its last client
	s := &service{tracerd: d, limits: cfg.Limits, users: make(map[uint32]*userUsage)}
	s.changed = sync.NewCond(&s.mu)

	stopped := podmancmd.StopSignals()
	go func() {
		<-stopped
		listener.Close()
	}()
	log.Printf("podprof tracer: serving on %s, mode %s; per uid at most %d connections, %d containers, %d recorded files",
		listener.Addr(), tracer.Mode(), cfg.Limits.Connections, cfg.Limits.Containers, cfg.Limits.Files)
	for {
		conn, err := listener.Accept()
		if err != nil {
			break
		}
		go s.serveConn(conn)
	}
	log.Printf("podprof tracer: stopping; the containers it watched end untraced")
	return nil
}

// serviceListener is the socket systemd passed (socket activation), or
// one the service makes at cfg.Socket, which it then removes at exit.
func serviceListener(cfg ServiceConfig) (listener net.Listener, ours bool, err error) {
	if os.Getenv("LISTEN_PID") == strconv.Itoa(os.Getpid()) && os.Getenv("LISTEN_FDS") == "1" {
		os.Unsetenv("LISTEN_PID")
		os.Unsetenv("LISTEN_FDS")
		listener, err = net.FileListener(os.NewFile(3, "systemd socket"))
		if err != nil {
			return nil, false, fmt.Errorf("using the socket systemd passed: %w", err)
		}
		return listener, false, nil
	}
	if conn, err := net.Dial("unix", cfg.Socket); err == nil {
		conn.Close()
		return nil, false, fmt.Errorf("a podprof tracer already serves %s: stop it first, or give another --socket", cfg.Socket)
	}
	if st, err := os.Lstat(cfg.Socket); err == nil {
		if st.Mode().Type() != os.ModeSocket {
			return nil, false, fmt.Errorf("%s exists and is not a socket: remove it or give another --socket", cfg.Socket)
		}
		os.Remove(cfg.Socket) // a dead service's
	}
	gid := -1
	if cfg.Group != "" {
		group, err := user.LookupGroup(cfg.Group)
		if err != nil {
			return nil, false, fmt.Errorf("--group %s: %w", cfg.Group, err)
		}
		gid, _ = strconv.Atoi(group.Gid)
	}
	listener, err = net.Listen("unix", cfg.Socket)
	if err != nil {
		return nil, false, fmt.Errorf("listening on %s: %w", cfg.Socket, err)
	}
	// Made with root's umask, at most as open as asked: then opened.
	if err := os.Chown(cfg.Socket, 0, gid); err == nil {
		err = os.Chmod(cfg.Socket, cfg.SocketMode)
	}
	if err != nil {
		listener.Close()
		return nil, false, fmt.Errorf("setting the owner and mode of %s: %w", cfg.Socket, err)
	}
	return listener, true, nil
}

// serveConn serves root as the on-demand tracer does, any other uid as
// serveUser does.
func (s *service) serveConn(conn net.Conn) {
	uid, err := peerUID(conn)
	if err != nil {
		log.Printf("podprof tracer: refusing a connection: %v", err)
		conn.Close()
		return
	}
	if uid == 0 {
		s.hold()
		s.handle(conn) // closes it and releases
		return
	}
	defer conn.Close()
	if err := s.admit(uid); err != nil {
		s.refuse(conn, uid, err)
		return
	}
	defer s.leave(uid)
	s.serveUser(conn, uid)
}

func (s *service) serveUser(conn net.Conn, uid uint32) {
	conn.SetReadDeadline(time.Now().Add(requestTimeout))
	var req serviceRequest
	if err := json.NewDecoder(io.LimitReader(conn, maxRequestBytes)).Decode(&req); err != nil {
		s.refuse(conn, uid, fmt.Errorf("unreadable request: %v", err))
		return
	}
	conn.SetReadDeadline(time.Time{})
	if want, _ := bpf.ParseMode(req.Mode); want != "" && want != s.tracer.Mode() {
		s.refuse(conn, uid, fmt.Errorf("the podprof tracer service uses mode %s, not %s: drop --podprof-tracer, or have root restart it with --tracer=%s", s.tracer.Mode(), want, want))
		return
	}
	switch {
	case req.Status:
		s.reply(conn, nil)
		json.NewEncoder(conn).Encode(s.status(uid))
	case req.Hold:
		s.reply(conn, nil)
		conn.Read(make([]byte, 1)) // held until the client closes
	case req.Watch != nil:
		s.watchForUser(conn, uid, req.Request)
	case req.Await != "":
		s.mu.Lock()
		for s.users[uid].awaited[req.Await] > 0 {
			s.changed.Wait()
		}
		s.mu.Unlock()
		s.reply(conn, nil)
	default:
		s.refuse(conn, uid, errors.New("empty request"))
	}
}

func (s *service) reply(conn net.Conn, err error) {
	r := hook.Reply{Mode: string(s.tracer.Mode())}
	if err != nil {
		r.Error = err.Error()
	}
	conn.SetWriteDeadline(time.Now().Add(recordsTimeout))
	json.NewEncoder(conn).Encode(r)
}

// refuse answers err and logs it with the uid that asked.
func (s *service) refuse(conn net.Conn, uid uint32, err error) {
	log.Printf("podprof tracer: uid %d: %v", uid, err)
	s.reply(conn, err)
}

// admit counts one more connection of uid, unless it holds its most.
func (s *service) admit(uid uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[uid]
	if u == nil {
		u = &userUsage{watches: make(map[*bpf.Container]bool), awaited: make(map[string]int)}
		s.users[uid] = u
	}
	if u.connections >= s.limits.Connections {
		return fmt.Errorf("uid %d has %d connections open to the podprof tracer, the most one user may: wait until some of its containers end", uid, u.connections)
	}
	u.connections++
	return nil
}

func (s *service) leave(uid uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[uid]
	if u.connections--; u.connections == 0 && u.containers == 0 {
		delete(s.users, uid)
	}
}

// watchForUser watches the container req names, if uid may (see
// authorizeWatch), until its init exits, then sends its records; the
// watch ends early if the client goes away or the uid records more files
// than its limit.
func (s *service) watchForUser(conn net.Conn, uid uint32, req hook.Request) {
	path := req.Watch.Annotations[hook.ProfileAnnotation]
	s.mu.Lock()
	u := s.users[uid]
	if u.containers >= s.limits.Containers {
		s.mu.Unlock()
		s.refuse(conn, uid, fmt.Errorf("uid %d has %d containers traced, the most one user may: wait until one ends", uid, u.containers))
		return
	}
	// Counted before the checks, which take time, so that concurrent
	// requests cannot pass the limit.
	u.containers++
	u.awaited[path]++
	s.mu.Unlock()
	var watched *bpf.Container
	defer func() {
		s.mu.Lock()
		u.containers--
		delete(u.watches, watched)
		if u.awaited[path]--; u.awaited[path] == 0 {
			delete(u.awaited, path)
		}
		s.changed.Broadcast()
		s.mu.Unlock()
	}()

	ctr, started, err := s.watchAuthorized(uid, req)
	if err != nil {
		s.refuse(conn, uid, err)
		return
	}
	s.mu.Lock()
	u.watches[ctr] = true
	watched = ctr
	s.mu.Unlock()
	s.reply(conn, nil)

	clientGone := make(chan struct{})
	go func() {
		conn.Read(make([]byte, 1)) // a client sends nothing more: EOF
		close(clientGone)
	}()
	check := time.NewTicker(time.Second)
	defer check.Stop()
	for waiting := true; waiting; {
		select {
		case <-ctr.Done():
			waiting = false
		case <-clientGone:
			ctr.Stop(errors.New("the client went away"))
			return
		case <-check.C:
			if files := s.recordedFiles(uid); files > s.limits.Files {
				err := fmt.Errorf("uid %d's traced containers recorded %d files, more than the %d the podprof tracer holds for one user: container traced no further", uid, files, s.limits.Files)
				log.Printf("podprof tracer: %v", err)
				ctr.Stop(err)
			}
		}
	}
	res, err := ctr.Wait(context.Background())
	msg := recordsMessage{Records: newRecords(s.tracer.Mode(), res, started)}
	if err != nil {
		msg = recordsMessage{Error: err.Error()}
	}
	conn.SetWriteDeadline(time.Now().Add(recordsTimeout))
	if json.NewEncoder(conn).Encode(msg) != nil {
		return
	}
	// Its Await is answered once the client has written the profile and
	// closed the connection.
	select {
	case <-clientGone:
	case <-time.After(recordsTimeout):
	}
}

// watchAuthorized starts watching the container whose init req names, if
// uid may.
func (s *service) watchAuthorized(uid uint32, req hook.Request) (*bpf.Container, time.Time, error) {
	process, err := authorizeWatch(uid, req.Watch.Pid)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer process.Close()
	var opts []bpf.WatchOption
	if _, ok := req.Watch.Annotations[SeccompAnnotation]; ok {
		opts = append(opts, bpf.RecordSyscalls) // its path is the client's business
	}
	started := time.Now()
	ctr, err := s.tracer.Watch(process.pid, opts...)
	if err != nil {
		return nil, time.Time{}, err
	}
	// Watch found the process by its pid: still the one checked only if
	// it has not exited since (a container's init waits at prestart).
	if !process.stillAlive() {
		err := fmt.Errorf("%w: process %d exited while it was checked", errNotPermitted, process.pid)
		ctr.Stop(err)
		return nil, time.Time{}, err
	}
	return ctr, started, nil
}

func (s *service) recordedFiles(uid uint32) int {
	s.mu.Lock()
	var watches []*bpf.Container
	for ctr := range s.users[uid].watches {
		watches = append(watches, ctr)
	}
	s.mu.Unlock()
	files := 0
	for _, ctr := range watches {
		files += ctr.RecordedFiles()
	}
	return files
}

func (s *service) status(uid uint32) ServiceStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := ServiceStatus{Mode: string(s.tracer.Mode())}
	if u := s.users[uid]; u != nil {
		st.Connections, st.Watches = u.connections, u.containers
	}
	return st
}
