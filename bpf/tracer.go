// Package bpf records the files that containers open, with eBPF programs
// filtered by mount namespace. It knows the kernel and nothing of podman: a
// container is a process whose mount namespace is its own.
package bpf

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"sync"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"
)

// Flags say how a file was opened, as the union over all its opens.
type Flags uint32

const (
	Read      Flags = Flags(podprofPodprofFlagsPODPROF_READ)
	Write     Flags = Flags(podprofPodprofFlagsPODPROF_WRITE)
	Exec      Flags = Flags(podprofPodprofFlagsPODPROF_EXEC)
	Truncated Flags = Flags(podprofPodprofFlagsPODPROF_TRUNCATED) // the path was cut at 4,095 bytes
)

// File is one path a container opened.
type File struct {
	Path  string // as the container sees it; raw bytes, untrusted
	Flags Flags
	PID   uint32 // host pid of the first process that opened it
	Comm  string // that process's name; raw bytes, untrusted
	// Events is how many kernel events named this path. More than one
	// means the open flags grew or the kernel's dedup missed (a full map,
	// a dentry evicted and loaded again); never one per open.
	Events int
}

// Result is what a container opened while it was traced.
type Result struct {
	Files []File // sorted by path
	// Lost counts events the kernel could not hand over because the ring
	// buffer was full: files that may be missing from Files.
	Lost uint64
	// Syscalls are the system calls the container's programs made, by
	// ABI then number; only with RecordSyscalls.
	Syscalls []Syscall
}

// Tracer holds the BPF programs, shared by every container it watches.
type Tracer struct {
	mode     Mode
	coll     *ebpf.Collection
	dedups   *dedupSlots // each container's dedup map, made ahead
	links    []link.Link
	syscalls *syscallRecorder
	reader   *ringbuf.Reader
	loopWG   sync.WaitGroup

	mu         sync.Mutex
	containers map[uint32]*Container // by mount namespace inode number
	flushed    []chan struct{}       // waiting for the ring buffer to be drained
}

// New loads and attaches the programs for mode, or for the best mode this
// kernel allows when mode is "". The error of a forced mode says why it
// cannot run; with "" it says why none can.
func New(mode Mode) (*Tracer, error) {
	if err := ensureRoot(); err != nil {
		return nil, err
	}
	candidates := Modes
	if mode != "" {
		candidates = []Mode{mode}
	}
	var errs []error
	for _, m := range candidates {
		t, err := load(m)
		if err == nil {
			return t, nil
		}
		errs = append(errs, err)
	}
	if mode != "" {
		return nil, fmt.Errorf("tracer mode %s is not available: %v", mode, errs[0])
	}
	return nil, fmt.Errorf("this kernel can't trace file opens (%s): run `podprof doctor`", joinReasons(candidates, errs))
}

func load(mode Mode) (_ *Tracer, err error) {
	if err := modeAllowed(mode); err != nil {
		return nil, err
	}
	spec, err := loadPodprof()
	if err != nil {
		return nil, fmt.Errorf("reading the embedded BPF object: %w", err)
	}
	syscalls := newSyscallRecorder(spec)
	progs := mode.programs()
	for name := range spec.Programs {
		if !contains(progs, name) {
			delete(spec.Programs, name)
		}
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		return nil, explainLoadError(err)
	}
	t := &Tracer{
		mode:       mode,
		coll:       coll,
		dedups:     newDedupSlots(spec.Maps[podprofMapDedups].InnerMap, coll.Maps[podprofMapDedups]),
		syscalls:   syscalls,
		containers: make(map[uint32]*Container),
	}
	defer func() {
		if err != nil {
			t.Close()
		}
	}()
	if err := t.Attach(); err != nil {
		return nil, err
	}
	if t.reader, err = ringbuf.NewReader(coll.Maps[podprofMapEvents]); err != nil {
		return nil, fmt.Errorf("opening the event ring buffer: %w", err)
	}
	t.loopWG.Add(1)
	go t.readLoop()
	return t, nil
}

// Attach attaches the programs again after Detach.
func (t *Tracer) Attach() error {
	if t.links != nil {
		return nil
	}
	for _, name := range t.mode.programs() {
		l, err := attach(t.coll.Programs[name])
		if err != nil {
			t.Detach()
			return fmt.Errorf("attaching %s: %w", name, err)
		}
		t.links = append(t.links, l)
	}
	return nil
}

// Detach detaches the programs, loaded still, while no container is
// watched: the host's opens then run no program of podprof's. Attach
// must come before the next Watch.
func (t *Tracer) Detach() {
	for _, l := range t.links {
		l.Close()
	}
	t.links = nil
}

func attach(prog *ebpf.Program) (link.Link, error) {
	if prog.Type() == ebpf.LSM {
		return link.AttachLSM(link.LSMOptions{Program: prog})
	}
	return link.AttachTracing(link.TracingOptions{Program: prog})
}

// Mode is the attach mode the tracer runs in.
func (t *Tracer) Mode() Mode { return t.mode }

// Close detaches the programs and frees every map; containers still being
// watched end with an error.
func (t *Tracer) Close() error {
	t.Detach()
	if t.reader != nil {
		t.reader.Close()
		t.loopWG.Wait()
	}
	// end takes t.mu and forgets the container: collected first, ended
	// after.
	t.mu.Lock()
	watched := slices.Collect(maps.Values(t.containers))
	t.mu.Unlock()
	for _, c := range watched {
		c.end(errors.New("tracer closed before the container ended"))
	}
	t.syscalls.close()
	if t.dedups != nil {
		t.dedups.close()
	}
	if t.coll != nil {
		t.coll.Close()
	}
	return nil
}

// Container is one traced container.
type Container struct {
	tracer *Tracer
	pid    int
	inum   uint32
	nsID   uint64 // 0 where the kernel has no NS_GET_MNTNS_ID
	pidfd  int
	// wake ends waitExit's poll when the watch ends before the process
	// exits (Stop, Close): closing pidfd would not wake a thread blocked
	// in poll on it. waitExit closes it; -1 then.
	wake  int
	ns    *os.File   // the mount namespace, held open while traced
	dedup *dedupSlot // while it has one

	recordSyscalls    bool
	recordingSyscalls bool // the kernel has the container's set

	files  map[string]*File // guarded by tracer.mu
	done   chan struct{}
	result Result
	err    error
}

// Watch starts recording the files opened in the mount namespace of pid,
// the container's init process, until that process exits. Opens made by
// the runtime before it execs the container's program are not recorded.
func (t *Tracer) Watch(pid int, opts ...WatchOption) (*Container, error) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, fmt.Errorf("opening process %d: %w", pid, err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(pidfd)
		return nil, fmt.Errorf("creating the watch's eventfd: %w", err)
	}
	c := &Container{tracer: t, pid: pid, pidfd: pidfd, wake: wake, files: make(map[string]*File), done: make(chan struct{})}
	for _, opt := range opts {
		opt(c)
	}
	if err := c.register(); err != nil {
		unix.Close(pidfd)
		unix.Close(wake)
		if c.ns != nil {
			c.ns.Close()
		}
		return nil, err
	}
	go c.waitExit()
	return c, nil
}

func (c *Container) register() error {
	t := c.tracer
	nsPath := fmt.Sprintf("/proc/%d/ns/mnt", c.pid)
	ns, err := os.Open(nsPath)
	if err != nil {
		return fmt.Errorf("opening the mount namespace of process %d: %w", c.pid, err)
	}
	// Held open until the container is finished: a namespace's inode
	// number is freed, and given to the next namespace, as soon as its
	// last process exits, before that process is a zombie. Holding the
	// namespace keeps its number ours.
	c.ns = ns
	var st unix.Stat_t
	if err := unix.Fstat(int(ns.Fd()), &st); err != nil {
		return fmt.Errorf("reading %s: %w", nsPath, err)
	}
	c.inum = uint32(st.Ino)
	c.nsID = mountNamespaceID(ns)
	if own, err := os.Readlink("/proc/self/ns/mnt"); err == nil && own == fmt.Sprintf("mnt:[%d]", c.inum) {
		return fmt.Errorf("process %d shares podprof's mount namespace: it is not a container", c.pid)
	}

	t.mu.Lock()
	old := t.containers[c.inum]
	t.mu.Unlock()
	if old != nil {
		// A namespace we hold cannot be another's: this one is watched
		// already, unless its holder's init has exited and it waits to be
		// finished.
		if !old.exited() {
			return fmt.Errorf("the mount namespace of process %d is already traced (process %d)", c.pid, old.pid)
		}
		old.finish()
	}

	slot, err := t.dedups.take()
	if err != nil {
		return err
	}
	// lost first: the kernel only counts into an entry that exists.
	if err := t.coll.Maps[podprofMapLost].Put(c.inum, uint64(0)); err != nil {
		t.dedups.release(slot)
		return fmt.Errorf("registering the lost-event counter: %w", err)
	}
	c.dedup = &slot
	t.mu.Lock()
	t.containers[c.inum] = c
	t.mu.Unlock()
	if err := t.coll.Maps[podprofMapContainers].Put(c.inum, slot.index); err != nil {
		c.forget()
		return fmt.Errorf("registering the mount namespace: %w", err)
	}
	if c.recordSyscalls {
		if err := c.startSyscalls(); err != nil {
			c.forget()
			return err
		}
		c.recordingSyscalls = true
	}
	return nil
}

// mountNamespaceID returns the namespace's 64-bit id, which the kernel never
// reuses, or 0 before Linux 6.10.
func mountNamespaceID(ns *os.File) uint64 {
	const nsGetMntnsID = 0x8008b705 // _IOR(0xb7, 0x5, __u64)
	var id uint64
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, ns.Fd(), nsGetMntnsID, uintptr(unsafe.Pointer(&id)))
	if errno != 0 {
		return 0
	}
	return id
}

// exited tells whether the container's init has exited, zombie or not.
func (c *Container) exited() bool {
	select {
	case <-c.done:
		return true
	default:
	}
	fds := []unix.PollFd{{Fd: int32(c.pidfd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0
}

// waitExit finishes the container when its init exits, or returns when
// the watch ends first.
func (c *Container) waitExit() {
	fds := []unix.PollFd{{Fd: int32(c.pidfd), Events: unix.POLLIN}, {Fd: int32(c.wake), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, -1)
		if err == nil || !errors.Is(err, unix.EINTR) {
			break
		}
	}
	c.finish() // nothing left to do if the watch ended first
	c.tracer.mu.Lock()
	defer c.tracer.mu.Unlock()
	unix.Close(c.wake)
	c.wake = -1
}

// finish runs once the container's init has exited: every event it emitted
// is in the ring buffer by then, so drain the buffer, then stop tracing.
func (c *Container) finish() {
	select {
	case <-c.done:
		return
	default:
	}
	err := c.tracer.drain()
	var lost uint64
	if lerr := c.tracer.coll.Maps[podprofMapLost].Lookup(c.inum, &lost); lerr != nil && err == nil {
		err = fmt.Errorf("reading the lost-event counter: %w", lerr)
	}
	c.result.Lost = lost
	if c.recordingSyscalls {
		calls, serr := c.readSyscalls()
		if err == nil {
			err = serr
		}
		c.result.Syscalls = calls
	}
	c.end(err)
}

// end collects the result and frees the container's kernel state.
func (c *Container) end(err error) {
	t := c.tracer
	t.mu.Lock()
	defer t.mu.Unlock()
	select {
	case <-c.done:
		return
	default:
	}
	c.result.Files = make([]File, 0, len(c.files))
	for _, f := range c.files {
		c.result.Files = append(c.result.Files, *f)
	}
	sort.Slice(c.result.Files, func(i, j int) bool { return c.result.Files[i].Path < c.result.Files[j].Path })
	c.err = err
	c.forgetLocked()
	close(c.done)
}

func (c *Container) forget() {
	c.tracer.mu.Lock()
	defer c.tracer.mu.Unlock()
	c.forgetLocked()
}

func (c *Container) forgetLocked() {
	t := c.tracer
	if t.containers[c.inum] == c {
		delete(t.containers, c.inum)
		if t.coll != nil {
			t.coll.Maps[podprofMapContainers].Delete(c.inum)
			t.coll.Maps[podprofMapLost].Delete(c.inum)
		}
	}
	if c.recordingSyscalls {
		c.stopSyscalls()
		c.recordingSyscalls = false
	}
	if c.dedup != nil {
		// After the delete from containers: no new open finds the slot.
		t.dedups.release(*c.dedup)
		c.dedup = nil
	}
	if c.pidfd >= 0 {
		unix.Close(c.pidfd) // waitExit's poll holds its own reference
		c.pidfd = -1
	}
	if c.wake >= 0 {
		unix.Write(c.wake, []byte{1, 0, 0, 0, 0, 0, 0, 0}) // an 8-byte add to the counter: not 0 in either byte order
	}
	if c.ns != nil {
		c.ns.Close()
		c.ns = nil
	}
}

// Wait returns what the container opened, once its init process has exited
// and every event it caused has been read.
func (c *Container) Wait(ctx context.Context) (Result, error) {
	select {
	case <-c.done:
		return c.result, c.err
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

// Done is closed when the result is ready.
func (c *Container) Done() <-chan struct{} { return c.done }

// drain returns once every event in the ring buffer when it was called has
// been dispatched to its container.
func (t *Tracer) drain() error {
	ch := make(chan struct{})
	t.mu.Lock()
	t.flushed = append(t.flushed, ch)
	t.mu.Unlock()
	if err := t.reader.Flush(); err != nil {
		return fmt.Errorf("flushing the ring buffer: %w", err)
	}
	select {
	case <-ch:
		return nil
	case <-time.After(10 * time.Second):
		return errors.New("timed out reading the last events")
	}
}

func (t *Tracer) readLoop() {
	defer t.loopWG.Done()
	var rec ringbuf.Record
	for {
		err := t.reader.ReadInto(&rec)
		switch {
		case err == nil:
			t.dispatch(rec.RawSample)
		case errors.Is(err, ringbuf.ErrFlushed):
			t.mu.Lock()
			for _, ch := range t.flushed {
				close(ch)
			}
			t.flushed = nil
			t.mu.Unlock()
		case errors.Is(err, ringbuf.ErrClosed):
			return
		}
	}
}

// eventHeader mirrors struct event up to its path; the path follows.
const eventHeader = int(unsafe.Offsetof(podprofEvent{}.Path))

func (t *Tracer) dispatch(raw []byte) {
	if len(raw) < eventHeader {
		return
	}
	nsID := binary.NativeEndian.Uint64(raw[0:])
	inum := binary.NativeEndian.Uint32(raw[8:])
	pid := binary.NativeEndian.Uint32(raw[12:])
	flags := Flags(binary.NativeEndian.Uint32(raw[16:]))
	pathLen := int(binary.NativeEndian.Uint32(raw[20:]))
	comm := raw[24:40]
	if eventHeader+pathLen > len(raw) {
		return
	}
	path := raw[eventHeader : eventHeader+pathLen]

	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.containers[inum]
	if c == nil || (c.nsID != 0 && nsID != 0 && nsID != c.nsID) {
		return // a container already finished, whose namespace number was reused
	}
	if f := c.files[string(path)]; f != nil {
		f.Flags |= flags
		f.Events++
		return
	}
	if i := bytes.IndexByte(comm, 0); i >= 0 {
		comm = comm[:i]
	}
	c.files[string(path)] = &File{Path: string(path), Flags: flags, PID: pid, Comm: string(comm), Events: 1}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
