package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// exit125 makes every error of cmd (wrong arguments, what the engine
// refuses) end berth with Docker's status 125 for its own errors, unless
// the error carries a status of its own. (Bad flags are 125 for every
// command: the root's flag error function.)
func exit125(cmd *cobra.Command) *cobra.Command {
	if args := cmd.Args; args != nil {
		cmd.Args = func(c *cobra.Command, a []string) error { return as125(args(c, a)) }
	}
	if run := cmd.RunE; run != nil {
		cmd.RunE = func(c *cobra.Command, a []string) error { return as125(run(c, a)) }
	}
	return cmd
}

func as125(err error) error {
	if err == nil {
		return nil
	}
	var se *statusError
	if errors.As(err, &se) {
		return err
	}
	return &statusError{125, err}
}
