// Command compose-check validates a Compose file offline the way `docker compose config` does:
// it uses compose-go, the library the Docker CLI itself loads Compose files with, so the check is
// the Compose Specification's JSON schema plus interpolation, normalization and the consistency
// rules (depends_on, networks, volumes and secrets must name things that exist).
//
// Usage: compose-check [-env-file FILE]... [-profile NAME]... COMPOSE_FILE...
// It prints the resolved project as JSON on success and exits 1 with the loader's error otherwise.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var envFiles, profiles listFlag
	flag.Var(&envFiles, "env-file", "env file used for interpolation (repeatable)")
	flag.Var(&profiles, "profile", "profile to enable (repeatable)")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: compose-check [-env-file FILE]... [-profile NAME]... COMPOSE_FILE...")
		os.Exit(2)
	}

	wd, err := os.Getwd()
	if err != nil {
		fail("cannot determine the working directory", err)
	}
	// The OS environment is deliberately not read: validation must not depend on whoever runs it.
	options, err := cli.NewProjectOptions(flag.Args(),
		cli.WithWorkingDirectory(wd),
		cli.WithEnvFiles(envFiles...),
		cli.WithDotEnv,
		cli.WithProfiles(profiles),
		cli.WithInterpolation(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		fail("invalid options", err)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fail("invalid compose project", err)
	}
	out, err := json.MarshalIndent(project, "", "  ")
	if err != nil {
		fail("cannot serialise the project", err)
	}
	fmt.Println(string(out))
}

func fail(message string, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", message, err)
	os.Exit(1)
}
