package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// applyEnvAndFile fills every flag not given on the command line from the environment
// (ZHILI_<NAME>, '-' → '_') or, failing that, from the config file's top-level key of the same
// name (with '-' or '_'). Precedence: command line > environment > file > default.
func applyEnvAndFile(fs *flag.FlagSet, file map[string]any) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || given[f.Name] || f.Name == "config" {
			return
		}
		env := "ZHILI_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s: %w", env, e)
			}
			return
		}
		for _, k := range []string{f.Name, strings.ReplaceAll(f.Name, "-", "_")} {
			if v, ok := file[k]; ok {
				if e := fs.Set(f.Name, fmt.Sprint(v)); e != nil {
					err = fmt.Errorf("config key %s: %w", k, e)
				}
				return
			}
		}
	})
	return err
}

// loadConfigFile reads a YAML config file (empty path: none).
func loadConfigFile(path string) (map[string]any, error) {
	if path == "" {
		return map[string]any{}, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	m := map[string]any{}
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return m, nil
}

// parseFlags parses args, then the environment and the config file named by --config.
func parseFlags(fs *flag.FlagSet, args []string, configFlag *string) (map[string]any, error) {
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	path := ""
	if configFlag != nil {
		path = *configFlag
		if path == "" {
			path = os.Getenv("ZHILI_CONFIG")
		}
	}
	file, err := loadConfigFile(path)
	if err != nil {
		return nil, err
	}
	return file, applyEnvAndFile(fs, file)
}
