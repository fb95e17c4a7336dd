// Command man writes podprof's man pages, podprof(1) and podprof-CMD(1)
// for each of its commands, from their definitions (cli.Root, and
// run.Commands for run's and slim's flags): make man.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/spf13/cobra/doc"

	"github.com/podprof/podprof/cli"
	"github.com/podprof/podprof/report"
	"github.com/podprof/podprof/run"
)

func main() {
	dir := flag.String("o", "man", "write the pages to `DIR`")
	flag.Parse()
	if err := write(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

func write(dir string) error {
	root := cli.Root()
	// run's and slim's flags are defined by podprof-podman, which does them.
	for _, api := range run.Commands().Commands() {
		for _, c := range root.Commands() {
			if c.Name() == api.Name() {
				c.Long = api.Long
				c.Flags().AddFlagSet(api.Flags())
			}
		}
	}
	root.DisableAutoGenTag = true // the same pages from the same source
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	header := &doc.GenManHeader{Title: "PODPROF", Section: "1", Source: "podprof " + report.Version, Manual: "User Commands"}
	return doc.GenManTree(root, header, dir)
}
