package report

// Version is this podprof's version, recorded in what it writes (profiles,
// the summary JSON, SBOM and VEX documents) and printed by `podprof
// version`. The Makefile sets it from git (go build -ldflags -X); a build
// made otherwise says "dev".
var Version = "dev"
