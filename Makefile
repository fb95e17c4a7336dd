# podprof Makefile. Targets:
#   build (default)  ./podprof, ./podprof-podman, ./podprof-hook, static (CGO_ENABLED=0); no clang needed
#   generate         regenerate the BPF objects (go generate ./bpf; needs clang) and the
#                    system call name table (go generate ./seccomp; needs scmp_sys_resolver)
#   setup            contrib/setup.sh: packages, mounts, containers.conf, test images
#   demo             setup + build + profile a command in the demo image
#   check            the unit tests: no root, podman, BPF or build needed (under a minute)
#   test             setup + check + build + go test (all packages) + test-podman5 + test-kernels
#                    + fuzz + test-podman-system
#   test-go          setup + build + go test of all packages
#   test-podman5     the run/ end-to-end tests against Podman 5 (Debian trixie chroot,
#                    contrib/podman5/), then the seccomp replay test under crun
#   test-kernels     contrib/kernels/run.sh (kernel matrix under qemu: bpf tests
#                    and real podman containers traced by ./podprof, their
#                    seccomp profiles replayed, podprof slim in lsm mode)
#   fuzz             build + each fuzz target for FUZZTIME (default 600000 runs)
#   bench            setup + build + bench/ (issue 7): full benchmarks, ~10 min
#                    (bench-kernels included); writes bench/results.json and BENCHMARKS.md
#   bench-quick      the same measurements with small counts (~2 min), writes
#                    nothing; fails only if a measurement can't be made (CI)
#   bench-kernels    contrib/kernels/run.sh --bench: what each tracer mode adds to
#                    an open()+close(), on Debian's kernels under qemu -icount (~3 min);
#                    prints a table per kernel, writes nothing
#   test-podman-system  podman's system tests (bats) with podman, then with ./podprof;
#                    fails on tests that pass with podman only (contrib/podman-system-tests/)
#   man              the man pages, podprof(1) and podprof-CMD(1), into man/
#   install          binaries to $(DESTDIR)$(PREFIX)/bin, man pages, bash/zsh/fish
#                    completion, OCI hook to $(DESTDIR)$(HOOKSDIR),
#                    the tracer service's systemd units to $(DESTDIR)$(SYSTEMDDIR)
#                    (enable: systemctl enable --now podprof-tracer.socket)
#   clean

# Use go from PATH, else the toolchain at /usr/local/go.
GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)

# Build tags for the podman bindings (remote client, no cgo-only graph drivers,
# no gpgme).
GO_TAGS := remote exclude_graphdriver_btrfs btrfs_noversion exclude_graphdriver_devicemapper containers_image_openpgp
GO_TEST_FLAGS ?= -count=1 -v -timeout 30m

# podprof's version (report.Version): the git tag or commit it was built from.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GO_LDFLAGS := -X github.com/podprof/podprof/report.Version=$(VERSION)

PREFIX ?= /usr/local
DESTDIR ?=
HOOKSDIR ?= /usr/share/containers/oci/hooks.d
SYSTEMDDIR ?= /etc/systemd/system
MANDIR ?= $(PREFIX)/share/man
BASHCOMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPLETIONDIR ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPLETIONDIR ?= $(PREFIX)/share/fish/vendor_completions.d

DEMO_IMAGE := localhost/podprof-demo/debian:bookworm

export CGO_ENABLED := 0

.PHONY: all build generate setup demo test test-go test-kernels man install clean

all: build

# podprof, and beside it podprof-podman, which podprof execs for `run` and
# `slim` (podmancmd.APIExecutable), and podprof-hook, the OCI hook
# (podmancmd.HookExecutable), which links the hook alone.
build:
	$(GO) build -tags "$(GO_TAGS)" -ldflags "$(GO_LDFLAGS)" -o podprof .
	$(GO) build -tags "$(GO_TAGS)" -ldflags "$(GO_LDFLAGS)" -o podprof-podman ./run/podprof-podman
	$(GO) build -o podprof-hook ./tracerd/podprof-hook

generate:
	$(GO) generate ./bpf ./seccomp

setup:
	bash contrib/setup.sh

demo: setup build
	./podprof run --rm --podprof-summary=always $(DEMO_IMAGE) /bin/sh -c 'date; grep -c root /etc/passwd; cat /etc/os-release'

test: setup check test-go test-podman5 test-kernels fuzz test-podman-system

test-go: setup build
	$(GO) test -tags "$(GO_TAGS)" $(GO_TEST_FLAGS) ./...

.PHONY: test-podman5

# The same end-to-end tests, in a cached Debian trixie chroot with Podman 5.
test-podman5: setup build
	GO="$(GO)" GO_TAGS="$(GO_TAGS)" PODPROF_BIN=$(CURDIR)/podprof bash contrib/podman5/podman5.sh test

test-kernels: setup build
	PODPROF_BIN=$(CURDIR)/podprof bash contrib/kernels/run.sh

.PHONY: fuzz

# The readers of untrusted input: profiles, layer tars, tar-split lines.
# A count, not a duration: with a duration Go 1.26's fuzz coordinator can
# report its own end-of-time deadline as a failure (golang/go#75804, fixed
# in Go 1.27); 600000 runs take 10 to 30 s per target here.
FUZZTIME ?= 600000x

fuzz: build
	$(GO) test -tags "$(GO_TAGS)" -run '^$$' -fuzz '^FuzzDecodeProfile$$' -fuzztime $(FUZZTIME) ./report
	$(GO) test -tags "$(GO_TAGS)" -run '^$$' -fuzz '^FuzzBuildImage$$' -fuzztime $(FUZZTIME) ./report
	$(GO) test -tags "$(GO_TAGS)" -run '^$$' -fuzz '^FuzzDecodeSegmentLine$$' -fuzztime $(FUZZTIME) ./imagestore

.PHONY: bench bench-quick bench-kernels

bench: setup build
	$(GO) run -tags "$(GO_TAGS)" ./bench -go "$(GO)" -podprof ./podprof -results bench/results.json -markdown BENCHMARKS.md

bench-quick: setup build
	$(GO) run -tags "$(GO_TAGS)" ./bench -go "$(GO)" -podprof ./podprof -quick

# run.sh builds the bpf test binary with the go on PATH
bench-kernels: setup
	PATH="$(dir $(GO)):$$PATH" bash contrib/kernels/run.sh --bench

.PHONY: test-podman-system

# podman's own system tests (test/system/*.bats of the installed podman's
# version) with PODMAN=podman, then PODMAN=./podprof; fails listing every test
# that passes with podman but not with podprof. 13-16 min; some suites: SUITES="030 075".
test-podman-system: setup build
	bash contrib/podman-system-tests/run.sh --podprof $(CURDIR)/podprof $(SUITES)

# The hook file in the tree names /usr/local/bin/podprof; point it at $(PREFIX).
# podprof(1) and podprof-CMD(1), from the commands' definitions.
man:
	rm -rf man
	$(GO) run -tags "$(GO_TAGS)" -ldflags "$(GO_LDFLAGS)" ./contrib/man -o man

install: build man
	install -D -m 0755 podprof $(DESTDIR)$(PREFIX)/bin/podprof
	install -D -m 0755 podprof-podman $(DESTDIR)$(PREFIX)/bin/podprof-podman
	install -D -m 0755 podprof-hook $(DESTDIR)$(PREFIX)/bin/podprof-hook
	install -d $(DESTDIR)$(MANDIR)/man1
	install -m 0644 man/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -d $(DESTDIR)$(BASHCOMPLETIONDIR) $(DESTDIR)$(ZSHCOMPLETIONDIR) $(DESTDIR)$(FISHCOMPLETIONDIR)
	./podprof completion -f $(DESTDIR)$(BASHCOMPLETIONDIR)/podprof bash
	./podprof completion -f $(DESTDIR)$(ZSHCOMPLETIONDIR)/_podprof zsh
	./podprof completion -f $(DESTDIR)$(FISHCOMPLETIONDIR)/podprof.fish fish
	install -d $(DESTDIR)$(HOOKSDIR)
	sed 's|"/usr/local/bin/podprof-hook"|"$(PREFIX)/bin/podprof-hook"|' contrib/hooks.d/podprof.json >$(DESTDIR)$(HOOKSDIR)/podprof.json
	chmod 0644 $(DESTDIR)$(HOOKSDIR)/podprof.json
	install -d $(DESTDIR)$(SYSTEMDDIR)
	install -m 0644 contrib/systemd/podprof-tracer.socket $(DESTDIR)$(SYSTEMDDIR)/podprof-tracer.socket
	sed 's|/usr/local/bin/podprof|$(PREFIX)/bin/podprof|' contrib/systemd/podprof-tracer.service >$(DESTDIR)$(SYSTEMDDIR)/podprof-tracer.service
	chmod 0644 $(DESTDIR)$(SYSTEMDDIR)/podprof-tracer.service

clean:
	rm -f podprof podprof-podman podprof-hook
	rm -rf man

.PHONY: check

# The tests that need no root, podman, BPF or binary build: the pure unit
# tests of every package but run/ (its tests are all end-to-end), in well
# under a minute. The end-to-end ones among them skip here when not root
# and say so (internal/e2e); CI runs them all.
check:
	$(GO) test -tags "$(GO_TAGS)" -count=1 $$($(GO) list ./... | grep -v -e '/run$$' -e '/run/')
