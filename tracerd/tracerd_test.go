package tracerd

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestTakeTracerLock: a tracer that finds another one starting or serving
// leaves the serving to it at once (the hook that started it must not wait
// for the lock: it did, 2 s, before each container that raced a cold
// tracer), and once that one is gone, holds the lock file that is there.
func TestTakeTracerLock(t *testing.T) {
	dir := t.TempDir()
	savedSocket, savedLock := tracerSocket, tracerLock
	tracerSocket, tracerLock = filepath.Join(dir, "tracer.sock"), filepath.Join(dir, "tracer.lock")
	defer func() { tracerSocket, tracerLock = savedSocket, savedLock }()

	first, err := takeTracerLock(time.Hour)
	if err != nil || first == nil {
		t.Fatalf("no tracer yet: want the lock, got %v, %v", first, err)
	}
	// Another tracer holds the lock and listens: with an hour to wait,
	// only leaving at once returns.
	if err := os.WriteFile(tracerSocket, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if second, err := takeTracerLock(time.Hour); second != nil || err != nil {
		t.Fatalf("another tracer serves: want nil, got %v, %v", second, err)
	}
	// It exits: removes its socket and its lock file, then lets go of it.
	os.Remove(tracerSocket)
	os.Remove(tracerLock)
	first.Close()
	third, err := takeTracerLock(time.Hour)
	if err != nil || third == nil {
		t.Fatalf("the last tracer is gone: want the lock, got %v, %v", third, err)
	}
	defer third.Close()
	held, _ := third.Stat()
	named, err := os.Stat(tracerLock)
	if err != nil || !os.SameFile(held, named) {
		t.Errorf("holds a lock file that is not %s any more", tracerLock)
	}
}
