package bpf

//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -cc clang -cflags "-O2 -g -Wall -Werror -mcpu=v3" -target amd64 -type event -type podprof_flags -type syscall_set podprof podprof.bpf.c -- -I.
