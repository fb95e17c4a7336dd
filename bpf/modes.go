package bpf

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"
)

// Mode is how the tracer sees file opens.
type Mode string

const (
	// LSM attaches to the lsm/file_open hook: every open, at the point the
	// kernel decides it. Needs `bpf` in the active LSM list.
	LSM Mode = "lsm"
	// Fentry attaches to security_file_open through a BTF trampoline: the
	// same opens, for kernels built without BPF LSM enabled.
	Fentry Mode = "fentry"
	// Tracepoint watches the open family of system calls returning and
	// maps the new fd to its file, for kernels that refuse trampolines.
	// Opens that are not system calls (io_uring) are not seen.
	Tracepoint Mode = "tracepoint"
)

// Modes lists the modes best first: New without a mode takes the first that
// loads.
var Modes = []Mode{LSM, Fentry, Tracepoint}

// ParseMode accepts a mode name; "" and "auto" mean the best available.
func ParseMode(s string) (Mode, error) {
	if s == "" || s == "auto" {
		return "", nil
	}
	for _, m := range Modes {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("unknown tracer mode %q: use auto, lsm, fentry or tracepoint", s)
}

// programs names the BPF programs a mode loads. With tracepoints, exec
// records the binary and ELF interpreter that the kernel opens for execve
// without a system call of their own.
func (m Mode) programs() []string {
	switch m {
	case LSM:
		return []string{podprofProgLsmFileOpen}
	case Fentry:
		return []string{podprofProgFentryFileOpen}
	default:
		return []string{podprofProgSysExitOpen, podprofProgExec}
	}
}

const lsmListPath = "/sys/kernel/security/lsm"

// modeAllowed answers what can be known without loading anything, so that
// `doctor` names the real cause rather than a load error.
func modeAllowed(m Mode) error {
	if _, err := btf.LoadKernelSpec(); err != nil {
		return fmt.Errorf("the kernel has no BTF (/sys/kernel/btf/vmlinux: %w): podprof needs a kernel built with CONFIG_DEBUG_INFO_BTF=y", err)
	}
	if m == LSM {
		if err := bpfInLSMList(); err != nil {
			return err
		}
	}
	return probeProgramType(m)
}

// probeProgramType loads the smallest program of the mode's kind: a kernel
// that refuses trampolines says so in a millisecond, rather than after the
// full programs' verification.
func probeProgramType(m Mode) error {
	var spec *ebpf.ProgramSpec
	switch m {
	case LSM:
		spec = &ebpf.ProgramSpec{Type: ebpf.LSM, AttachType: ebpf.AttachLSMMac, AttachTo: "file_open"}
	case Fentry:
		spec = &ebpf.ProgramSpec{Type: ebpf.Tracing, AttachType: ebpf.AttachTraceFEntry, AttachTo: "security_file_open"}
	default:
		return nil // tp_btf loads wherever BTF does
	}
	spec.License = "GPL"
	spec.Instructions = asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}
	prog, err := ebpf.NewProgram(spec)
	if err != nil {
		return explainLoadError(err)
	}
	return prog.Close()
}

func bpfInLSMList() error {
	list, err := os.ReadFile(lsmListPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return errors.New("securityfs is not mounted, so the active LSM list is unknown: mount -t securityfs securityfs /sys/kernel/security")
		}
		return fmt.Errorf("reading the active LSM list: %w", err)
	}
	for _, name := range strings.Split(strings.TrimSpace(string(list)), ",") {
		if name == "bpf" {
			return nil
		}
	}
	return fmt.Errorf("bpf is not in the active LSM list (%s): boot with lsm=%s,bpf", strings.TrimSpace(string(list)), strings.TrimSpace(string(list)))
}

// explainLoadError turns the kernel's answers into causes a user can act on.
// A kernel that refuses trampolines answers EPERM with an empty verifier
// log, which cilium/ebpf reports with a misleading hint about RLIMIT_MEMLOCK.
func explainLoadError(err error) error {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) && len(ve.Log) > 0 {
		return fmt.Errorf("the verifier rejected the program: %s", ve.Log[len(ve.Log)-1])
	}
	if errors.Is(err, unix.EPERM) {
		return errors.New("the kernel refuses to load it (EPERM with no verifier log: BPF trampolines are not allowed here)")
	}
	return fmt.Errorf("loading the BPF programs: %w", err)
}

func ensureRoot() error {
	if os.Geteuid() != 0 {
		return errors.New("tracing needs root (CAP_BPF and CAP_PERFMON): run podprof as root")
	}
	return nil
}

// joinReasons says why each mode failed, or just why when all failed
// alike (a kernel without BTF).
func joinReasons(modes []Mode, errs []error) string {
	var reasons []string
	same := true
	for i, err := range errs {
		reasons = append(reasons, fmt.Sprintf("%s: %v", modes[i], err))
		same = same && err.Error() == errs[0].Error()
	}
	if same {
		return errs[0].Error()
	}
	return strings.Join(reasons, "; ")
}

// ModeStatus is one line of `podprof doctor`.
type ModeStatus struct {
	Mode   Mode
	Err    error // nil: this mode loads and attaches here
	Chosen bool  // the mode New("") picks
	// Syscalls is nil when RecordSyscalls works in this mode; meaningless
	// where the mode itself does not.
	Syscalls error
}

// Probe loads and attaches each mode in turn, with the system call
// program, then unloads it, and reports which ones work and why the others
// don't.
func Probe() []ModeStatus {
	var out []ModeStatus
	chosen := false
	for _, m := range Modes {
		st := ModeStatus{Mode: m}
		if err := ensureRoot(); err != nil {
			st.Err = err
		} else if t, err := load(m); err != nil {
			st.Err = err
		} else {
			st.Syscalls = t.ProbeSyscalls()
			t.Close()
			st.Chosen = !chosen
			chosen = true
		}
		out = append(out, st)
	}
	return out
}
