package bpf

import (
	"errors"
	"fmt"
	"math/bits"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
)

// ABI is a system call convention of x86-64 Linux. Each has numbers of its
// own, and a seccomp filter matches each as an architecture of its own.
type ABI int

// In the order of enum podprof_abi (podprof.h), which indexes the kernel's
// bit sets.
const (
	X86_64 ABI = iota
	I386       // 32-bit programs, through the compat entry
	X32        // the x32 ABI: 64-bit registers, 32-bit pointers
	abis
)

// String is libseccomp's name of the ABI's architecture.
func (a ABI) String() string {
	switch a {
	case X86_64:
		return "x86_64"
	case I386:
		return "x86"
	case X32:
		return "x32"
	}
	return fmt.Sprintf("ABI(%d)", int(a))
}

// Syscall is one system call: its number in its ABI.
type Syscall struct {
	ABI    ABI
	Number int
}

// WatchOption asks Watch to record more than the files opened.
type WatchOption func(*Container)

// RecordSyscalls has Watch record every system call the container's
// programs make (Result.Syscalls). The sys_enter program that does it is
// attached only while some container records them: it runs for each
// system call on the host.
func RecordSyscalls(c *Container) { c.recordSyscalls = true }

// syscallRecorder is the sys_enter program, loaded on the first container
// that records system calls and attached while one does.
type syscallRecorder struct {
	mu    sync.Mutex
	spec  *ebpf.CollectionSpec // the program alone; its maps are the tracer's
	coll  *ebpf.Collection
	link  link.Link
	users int
}

// newSyscallRecorder keeps the program's spec out of the tracer's own
// collection, whose loading must not depend on it.
func newSyscallRecorder(spec *ebpf.CollectionSpec) *syscallRecorder {
	spec = spec.Copy()
	spec.Programs = map[string]*ebpf.ProgramSpec{podprofProgSysEnterRecord: spec.Programs[podprofProgSysEnterRecord]}
	return &syscallRecorder{spec: spec}
}

// start attaches the program for one more container.
func (r *syscallRecorder) start(maps map[string]*ebpf.Map) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.users == 0 {
		if err := r.attach(maps); err != nil {
			return err
		}
	}
	r.users++
	return nil
}

func (r *syscallRecorder) attach(maps map[string]*ebpf.Map) (err error) {
	if err := sysEnterExists(); err != nil {
		return err
	}
	if r.coll == nil {
		coll, err := ebpf.NewCollectionWithOptions(r.spec, ebpf.CollectionOptions{MapReplacements: maps})
		if err != nil {
			return fmt.Errorf("this kernel can't record system calls: %w", explainLoadError(err))
		}
		r.coll = coll
	}
	r.link, err = link.AttachTracing(link.TracingOptions{Program: r.coll.Programs[podprofProgSysEnterRecord]})
	if err != nil {
		return fmt.Errorf("this kernel can't record system calls: attaching to sys_enter: %w", err)
	}
	return nil
}

// sysEnterExists names the cause of a kernel built without syscall
// tracepoints, rather than the loader's error about a missing BTF type.
func sysEnterExists() error {
	kernel, err := btf.LoadKernelSpec()
	if err != nil {
		return fmt.Errorf("the kernel has no BTF: %w", err)
	}
	var target *btf.Typedef
	if err := kernel.TypeByName("btf_trace_sys_enter", &target); err != nil {
		if errors.Is(err, btf.ErrNotFound) {
			return errors.New("this kernel has no sys_enter tracepoint (built without CONFIG_FTRACE_SYSCALLS), so podprof can't record system calls: drop --podprof-seccomp")
		}
		return fmt.Errorf("looking up the sys_enter tracepoint: %w", err)
	}
	return nil
}

// stop detaches the program when its last container is done.
func (r *syscallRecorder) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.users--; r.users == 0 && r.link != nil {
		r.link.Close()
		r.link = nil
	}
}

func (r *syscallRecorder) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.link != nil {
		r.link.Close()
		r.link = nil
	}
	if r.coll != nil {
		r.coll.Close()
		r.coll = nil
	}
}

// ProbeSyscalls attaches and detaches the system call program: whether
// RecordSyscalls can work with this tracer.
func (t *Tracer) ProbeSyscalls() error {
	if err := t.syscalls.start(t.coll.Maps); err != nil {
		return err
	}
	t.syscalls.stop()
	return nil
}

// startSyscalls makes the kernel record the container's system calls.
func (c *Container) startSyscalls() error {
	t := c.tracer
	if err := t.syscalls.start(t.coll.Maps); err != nil {
		return err
	}
	if err := t.coll.Maps[podprofMapSyscallSets].Put(c.inum, podprofSyscallSet{}); err != nil {
		t.syscalls.stop()
		return fmt.Errorf("registering the container's system call set: %w", err)
	}
	return nil
}

// readSyscalls lists the bits the kernel set, by ABI then number.
func (c *Container) readSyscalls() ([]Syscall, error) {
	var set podprofSyscallSet
	if err := c.tracer.coll.Maps[podprofMapSyscallSets].Lookup(c.inum, &set); err != nil {
		return nil, fmt.Errorf("reading the container's system calls: %w", err)
	}
	var calls []Syscall
	for abi, words := range set.Bits {
		for i, word := range words {
			for ; word != 0; word &= word - 1 {
				calls = append(calls, Syscall{ABI: ABI(abi), Number: 64*i + bits.TrailingZeros64(word)})
			}
		}
	}
	return calls, nil
}

// stopSyscalls forgets the container's set; t.mu is held.
func (c *Container) stopSyscalls() {
	t := c.tracer
	if t.coll != nil {
		t.coll.Maps[podprofMapSyscallSets].Delete(c.inum)
	}
	t.syscalls.stop()
}
