package bpf

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/podprof/podprof/internal/e2e"
)

// syscallsEnv makes the test binary a workload that makes the system calls
// it lists ("x86_64:140,x32:39"), with no arguments, and exits.
const syscallsEnv = "PODPROF_TEST_SYSCALLS"

const x32SyscallBit = 0x40000000

func makeSyscalls(list string) int {
	runtime.LockOSThread()
	for _, call := range strings.Split(list, ",") {
		abi, nr, _ := strings.Cut(call, ":")
		n, err := strconv.Atoi(nr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "syscall list:", err)
			return 1
		}
		if abi == "x32" {
			n |= x32SyscallBit // ENOSYS where x32 is off: sys_enter sees it all the same
		}
		unix.RawSyscall(uintptr(n), 0, 0, 0)
	}
	return 0
}

// TestTracerRecordsSyscalls runs two containers at once that make one rare
// system call each: each gets its own, in its ABI, and not the other's nor
// the runtime's calls before exec; the program is attached only while a
// container records.
func TestTracerRecordsSyscalls(t *testing.T) {
	e2e.Require(t, false, "it loads BPF programs")
	tr := newTestTracer(t)
	if tr.syscalls.link != nil {
		t.Fatal("the sys_enter program is attached before any container asked for it")
	}
	getpriority, getpgrp := Syscall{X86_64, unix.SYS_GETPRIORITY}, Syscall{X86_64, unix.SYS_GETPGRP}
	x32Getpid := Syscall{X32, unix.SYS_GETPID}
	a, cmdA, _ := startFake(t, tr, t.TempDir(), []string{os.Args[0]},
		[]string{syscallsEnv + fmt.Sprintf("=x86_64:%d,x32:%d", getpriority.Number, x32Getpid.Number)}, RecordSyscalls)
	b, cmdB, _ := startFake(t, tr, t.TempDir(), []string{os.Args[0]},
		[]string{syscallsEnv + fmt.Sprintf("=x86_64:%d", getpgrp.Number)}, RecordSyscalls)
	if tr.syscalls.link == nil {
		t.Error("the sys_enter program is not attached while two containers record")
	}
	resA, resB := waitResult(t, a, cmdA), waitResult(t, b, cmdB)
	t.Logf("A: %v", resA.Syscalls)
	t.Logf("B: %v", resB.Syscalls)

	// The fake runtime unshares and mounts before it execs the workload,
	// which does neither.
	runtimeOnly := []Syscall{{X86_64, unix.SYS_UNSHARE}, {X86_64, unix.SYS_MOUNT}}
	check := func(name string, got []Syscall, want, notWant []Syscall) {
		for _, s := range want {
			if !slices.Contains(got, s) {
				t.Errorf("container %s: %v is not recorded", name, s)
			}
		}
		for _, s := range append(notWant, runtimeOnly...) {
			if slices.Contains(got, s) {
				t.Errorf("container %s: %v is recorded, but it did not make it", name, s)
			}
		}
		if !slices.Contains(got, Syscall{X86_64, unix.SYS_EXIT_GROUP}) {
			t.Errorf("container %s: exit_group, which every workload makes, is not recorded", name)
		}
	}
	check("A", resA.Syscalls, []Syscall{getpriority, x32Getpid}, []Syscall{getpgrp})
	check("B", resB.Syscalls, []Syscall{getpgrp}, []Syscall{getpriority, x32Getpid})

	if tr.syscalls.link != nil {
		t.Error("the sys_enter program is still attached after the containers ended")
	}
	var key uint32
	if err := tr.coll.Maps[podprofMapSyscallSets].NextKey(nil, &key); err == nil {
		t.Errorf("the kernel's syscall_sets map still holds namespace %d", key)
	}
}

// A container that does not ask records no system call.
func TestTracerSyscallsOnlyWhenAsked(t *testing.T) {
	e2e.Require(t, false, "it loads BPF programs")
	tr := newTestTracer(t)
	c, cmd, _ := startFake(t, tr, t.TempDir(), []string{os.Args[0]}, []string{syscallsEnv + "=x86_64:140"})
	if tr.syscalls.link != nil {
		t.Error("the sys_enter program is attached for a container that did not ask")
	}
	if res := waitResult(t, c, cmd); res.Syscalls != nil {
		t.Errorf("system calls recorded without RecordSyscalls: %v", res.Syscalls)
	}
}
