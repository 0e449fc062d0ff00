package main

import (
	"fmt"
)

// validate: stride validate [options] [DIR|FILE]. Exit 0 valid, 1 invalid.
func (c *cli) validate(args []string) int {
	var cf configFlags
	fs := c.flagSet("validate", "validate [options] [DIR|FILE]\n\nChecks the configuration (every *.hcl file in DIR, or one FILE) without\nlooking at the deployed state. Exit status 0 when valid, 1 when not.")
	cf.register(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return exitError
	}
	path, err := oneDir(fs, pos)
	if err != nil {
		return exitError
	}
	_, spec := c.loadConfig(path, &cf)
	if spec == nil {
		return exitError
	}
	s := c.styles(cf.noColor)
	fmt.Fprintf(c.stdout, "%s The configuration is valid: %s under %s.\n",
		s.Create.Sprint("Success!"), countApps(len(spec.Apps), len(spec.Groups)), spec.Scope)
	return exitOK
}

func countApps(apps, groups int) string {
	plural := func(n int, one, many string) string {
		if n == 1 {
			return fmt.Sprintf("%d %s", n, one)
		}
		return fmt.Sprintf("%d %s", n, many)
	}
	return plural(apps, "app", "apps") + " in " + plural(groups, "group", "groups")
}
