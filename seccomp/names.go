package seccomp

import "github.com/podprof/podprof/bpf"

//go:generate go run ./gensyscalls -o syscalls_table.go

// Name is libseccomp's name of a system call, or "" when the table, made
// from the libseccomp the generator ran with, has none: a call newer than
// that libseccomp, which a profile can't name.
func Name(call bpf.Syscall) string {
	names := syscallNames[call.ABI]
	if call.Number < 0 || call.Number >= len(names) {
		return ""
	}
	return names[call.Number]
}
