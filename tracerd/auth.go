package tracerd

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The tracer service decides who may watch what from the kernel's word
// alone: the uid of the connection's peer (SO_PEERCRED) and what /proc
// says of the process to watch. Nothing the client sends (the OCI state's
// annotations, bundle, id) is believed.

// peerUID is the uid of the process at the other end of conn, as the
// kernel recorded it when that process connected, in the tracer's user
// namespace: a rootless podman's "root" is its user.
func peerUID(conn net.Conn) (uint32, error) {
	unixConn, ok := conn.(*net.UnixConn)
	if !ok {
		return 0, errors.New("not a unix socket connection")
	}
	raw, err := unixConn.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if credErr != nil {
		return 0, fmt.Errorf("reading the peer's credentials (SO_PEERCRED): %w", credErr)
	}
	return cred.Uid, nil
}

// errNotPermitted marks a refusal: the client may not watch that process.
var errNotPermitted = errors.New("not permitted")

// pinnedProcess is a process the tracer checked, held by a pidfd: as long
// as it has not exited, its pid names it and no other process.
type pinnedProcess struct {
	pid   int
	pidfd int
}

// authorizeWatch returns the process pid, pinned, if client may watch the
// container it is the init of: root may watch anything; any other uid
// only a process of its own rootless containers, one in a user namespace
// (not the host's) that the client owns, running as the client's uid or
// one of its subordinate uids (/etc/subuid). The caller checks that the
// process is still alive once it watches it (stillAlive), then closes it.
func authorizeWatch(client uint32, pid int) (*pinnedProcess, error) {
	if pid <= 0 {
		return nil, errors.New("the container state has no pid: run the hook at the prestart or createRuntime stage")
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: no process %d (%v)", errNotPermitted, pid, err)
	}
	p := &pinnedProcess{pid: pid, pidfd: pidfd}
	if client == 0 {
		return p, nil
	}
	// Read while the pidfd pins the pid; checked alive afterwards, so
	// that what was read is this process's and not a successor's.
	owner, inHostNamespace, nsErr := userNamespaceOwner(pid)
	realUID, uidErr := processRealUID(pid)
	switch {
	case !p.stillAlive():
		err = fmt.Errorf("%w: process %d exited while it was checked", errNotPermitted, pid)
	case nsErr != nil:
		err = fmt.Errorf("%w: %v", errNotPermitted, nsErr)
	case uidErr != nil:
		err = fmt.Errorf("%w: %v", errNotPermitted, uidErr)
	case inHostNamespace:
		err = fmt.Errorf("%w: process %d is not in a user namespace of uid %d (it is in the host's): only your own rootless containers can be watched", errNotPermitted, pid, client)
	case owner != client:
		err = fmt.Errorf("%w: process %d is in a user namespace of uid %d, not of uid %d: only your own rootless containers can be watched", errNotPermitted, pid, owner, client)
	case realUID != client && !subordinateUID(client, realUID):
		err = fmt.Errorf("%w: process %d runs as uid %d, neither uid %d nor one of its subordinate uids (/etc/subuid)", errNotPermitted, pid, realUID, client)
	}
	if err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// stillAlive says whether the pinned process has not exited (a zombie
// has): until then no other process can have its pid.
func (p *pinnedProcess) stillAlive() bool {
	fds := []unix.PollFd{{Fd: int32(p.pidfd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n == 0
}

func (p *pinnedProcess) Close() { unix.Close(p.pidfd) }

// userNamespaceOwner is the uid that created the user namespace of pid
// (NS_GET_OWNER_UID), and whether that namespace is the host's, the
// tracer's own.
func userNamespaceOwner(pid int) (owner uint32, host bool, err error) {
	path := fmt.Sprintf("/proc/%d/ns/user", pid)
	ns, err := os.Open(path)
	if err != nil {
		return 0, false, fmt.Errorf("opening the user namespace of process %d: %w", pid, err)
	}
	defer ns.Close()
	var st, own unix.Stat_t
	if err := unix.Fstat(int(ns.Fd()), &st); err != nil {
		return 0, false, fmt.Errorf("reading %s: %w", path, err)
	}
	if err := unix.Stat("/proc/self/ns/user", &own); err != nil {
		return 0, false, fmt.Errorf("reading the tracer's user namespace: %w", err)
	}
	if st.Dev == own.Dev && st.Ino == own.Ino {
		return 0, true, nil
	}
	const nsGetOwnerUID = 0xb704 // _IO(0xb7, 0x4)
	var uid uint32
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, ns.Fd(), nsGetOwnerUID, uintptr(unsafe.Pointer(&uid))); errno != 0 {
		return 0, false, fmt.Errorf("reading the owner of %s: %w", path, errno)
	}
	return uid, false, nil
}

// processRealUID is the real uid of pid in the tracer's user namespace.
func processRealUID(pid int) (uint32, error) {
	path := fmt.Sprintf("/proc/%d/status", pid)
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", path, err)
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		if rest, ok := strings.CutPrefix(scanner.Text(), "Uid:"); ok {
			fields := strings.Fields(rest)
			if len(fields) > 0 {
				uid, err := strconv.ParseUint(fields[0], 10, 32)
				if err == nil {
					return uint32(uid), nil
				}
			}
		}
	}
	return 0, fmt.Errorf("%s has no Uid line", path)
}

// subuidFile lists each user's subordinate uids.
const subuidFile = "/etc/subuid"

// subordinateUID says whether uid is one of client's subordinate uids:
// a line of /etc/subuid, by the client's name or uid, whose range holds it.
func subordinateUID(client, uid uint32) bool {
	f, err := os.Open(subuidFile)
	if err != nil {
		return false
	}
	defer f.Close()
	name := ""
	if u, err := user.LookupId(strconv.FormatUint(uint64(client), 10)); err == nil {
		name = u.Username
	}
	return subordinateRangesHold(bufio.NewScanner(f), name, client, uid)
}

func subordinateRangesHold(lines *bufio.Scanner, name string, client, uid uint32) bool {
	clientID := strconv.FormatUint(uint64(client), 10)
	for lines.Scan() {
		fields := strings.Split(strings.TrimSpace(lines.Text()), ":")
		if len(fields) != 3 || (fields[0] != clientID && (name == "" || fields[0] != name)) {
			continue
		}
		start, err1 := strconv.ParseUint(fields[1], 10, 32)
		count, err2 := strconv.ParseUint(fields[2], 10, 32)
		if err1 == nil && err2 == nil && uint64(uid) >= start && uint64(uid) < start+count {
			return true
		}
	}
	return false
}
