package bpf

// Stop ends the watch before the container's init exits: the tracer
// service stops tracing a container whose client went away or went past
// its limits. Wait then returns err and what was recorded until now.
func (c *Container) Stop(err error) {
	c.end(err)
}

// RecordedFiles is how many distinct paths the container opened so far:
// what its watch holds in the tracer's memory.
func (c *Container) RecordedFiles() int {
	c.tracer.mu.Lock()
	defer c.tracer.mu.Unlock()
	return len(c.files)
}
