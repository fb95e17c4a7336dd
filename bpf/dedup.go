package bpf

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// A container's dedup map lives in a slot of the kernel's `dedups` array
// of maps; `containers` maps the container's mount namespace to its slot.
// Filling or emptying a slot makes the kernel wait for an RCU grace period
// (a map of maps' update returns only once no program can still see the
// old map): milliseconds, which a container's start must not wait for. So
// a slot is filled ahead, with a new map, and emptied after the container
// is forgotten, both in the background; Watch only puts the container's
// namespace in `containers`, a plain hash.

// dedupSlot is a filled slot: its index in `dedups` and the map in it.
type dedupSlot struct {
	index uint32
	m     *ebpf.Map
}

// dedupSlots hands out the slots of `dedups`: one filled ahead, and the
// indexes no container has.
type dedupSlots struct {
	spec  *ebpf.MapSpec // the shape of one container's map
	array *ebpf.Map     // `dedups`
	spare chan dedupSlot
	wg    sync.WaitGroup // the background fills and empties

	mu   sync.Mutex
	free []uint32
}

func newDedupSlots(spec *ebpf.MapSpec, array *ebpf.Map) *dedupSlots {
	s := &dedupSlots{spec: spec, array: array, spare: make(chan dedupSlot, 1)}
	for i := array.MaxEntries(); i > 0; i-- {
		s.free = append(s.free, i-1) // taken from the end: slot 0 first
	}
	s.fillSpare() // the first container's, as the tracer loads
	return s
}

// take returns a filled slot for a new container: the spare, refilled in
// the background, or else one filled now.
func (s *dedupSlots) take() (dedupSlot, error) {
	select {
	case slot := <-s.spare:
		s.background(s.fillSpare)
		return slot, nil
	default:
		return s.fill()
	}
}

// release empties a slot whose container is no longer in `containers`,
// in the background; its index is free once no program can see its map.
func (s *dedupSlots) release(slot dedupSlot) {
	s.background(func() { s.empty(slot) })
}

// close waits for the background work and empties the spare. The caller
// has released every slot it took.
func (s *dedupSlots) close() {
	s.wg.Wait()
	select {
	case slot := <-s.spare:
		s.empty(slot)
	default:
	}
}

// background runs work on a thread of its own at the lowest CPU priority:
// making a map has the kernel zero megabytes, which must not take a CPU
// from the container starting meanwhile; the grace periods only wait.
func (s *dedupSlots) background(work func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		runtime.LockOSThread()
		if tid := unix.Gettid(); tid != unix.Getpid() {
			// Never unlocked: the thread, niced, ends with the goroutine.
			unix.Setpriority(unix.PRIO_PROCESS, tid, 19)
		} else {
			runtime.UnlockOSThread() // the main thread, which never ends
		}
		work()
	}()
}

// fillSpare fills the next container's slot. Failing, it leaves none:
// take then fills one, and says why it can't.
func (s *dedupSlots) fillSpare() {
	slot, err := s.fill()
	if err != nil {
		return
	}
	select {
	case s.spare <- slot:
	default:
		s.empty(slot)
	}
}

// fill makes a container's map and puts it in a free slot.
func (s *dedupSlots) fill() (dedupSlot, error) {
	s.mu.Lock()
	if len(s.free) == 0 {
		s.mu.Unlock()
		return dedupSlot{}, errors.New("every dedup map slot is taken: too many containers traced at once")
	}
	index := s.free[len(s.free)-1]
	s.free = s.free[:len(s.free)-1]
	s.mu.Unlock()
	m, err := ebpf.NewMap(s.spec)
	if err == nil {
		if err = s.array.Put(index, m); err != nil {
			m.Close()
		}
	}
	if err != nil {
		s.putFree(index)
		return dedupSlot{}, fmt.Errorf("creating the dedup map: %w", err)
	}
	return dedupSlot{index, m}, nil
}

// empty takes the map out of its slot, frees it and the slot.
func (s *dedupSlots) empty(slot dedupSlot) {
	// Returns once no program can still see the map: only then may the
	// slot hold another container's.
	if err := s.array.Delete(slot.index); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		slot.m.Close()
		return // the index is lost rather than shared
	}
	slot.m.Close()
	s.putFree(slot.index)
}

func (s *dedupSlots) putFree(index uint32) {
	s.mu.Lock()
	s.free = append(s.free, index)
	s.mu.Unlock()
}
