# podprof Makefile. Targets:
#   build (default)  ./podprof, static (CGO_ENABLED=0); no clang needed
#   generate         regenerate the BPF objects (go generate ./bpf; needs clang)
#   setup            contrib/setup.sh: packages, mounts, containers.conf, test images
#   demo             setup + build + profile a command in the demo image
#   test             setup + build + go test (all packages) + test-kernels
#   test-go          setup + build + go test of all packages
#   test-kernels     contrib/kernels/run.sh (kernel matrix under qemu)
#   install          binary to $(DESTDIR)$(PREFIX)/bin, OCI hook to $(DESTDIR)$(HOOKSDIR)
#   clean

# Use go from PATH, else the toolchain at /usr/local/go.
GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)

# Build tags for the podman bindings (remote client, no cgo-only graph drivers,
# no gpgme).
GO_TAGS := remote exclude_graphdriver_btrfs btrfs_noversion exclude_graphdriver_devicemapper containers_image_openpgp
GO_TEST_FLAGS ?= -count=1 -v -timeout 30m

PREFIX ?= /usr/local
DESTDIR ?=
HOOKSDIR ?= /usr/share/containers/oci/hooks.d

DEMO_IMAGE := localhost/podprof-demo/debian:bookworm

export CGO_ENABLED := 0

.PHONY: all build generate setup demo test test-go test-kernels install clean

all: build

build:
	$(GO) build -tags "$(GO_TAGS)" -o podprof .

generate:
	$(GO) generate ./bpf

setup:
	bash contrib/setup.sh

demo: setup build
	./podprof run --rm --podprof-summary=always $(DEMO_IMAGE) /bin/sh -c 'date; grep -c root /etc/passwd; cat /etc/os-release'

test: test-go test-kernels

test-go: setup build
	$(GO) test -tags "$(GO_TAGS)" $(GO_TEST_FLAGS) ./...

test-kernels: setup build
	bash contrib/kernels/run.sh

# The hook file in the tree names /usr/local/bin/podprof; point it at $(PREFIX).
install: build
	install -D -m 0755 podprof $(DESTDIR)$(PREFIX)/bin/podprof
	install -d $(DESTDIR)$(HOOKSDIR)
	sed 's|"/usr/local/bin/podprof"|"$(PREFIX)/bin/podprof"|' contrib/hooks.d/podprof.json >$(DESTDIR)$(HOOKSDIR)/podprof.json
	chmod 0644 $(DESTDIR)$(HOOKSDIR)/podprof.json

clean:
	rm -f podprof
