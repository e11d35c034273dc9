package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
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

// configFile is a parsed YAML config file: its top-level values and its node tree (for the
// access sections and line numbers).
type configFile struct {
	Path   string
	Values map[string]any
	Doc    yaml.Node
}

// loadConfigFile reads a YAML config file (empty path: none).
func loadConfigFile(path string) (*configFile, error) {
	cf := &configFile{Path: path, Values: map[string]any{}}
	if path == "" {
		return cf, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := yaml.Unmarshal(b, &cf.Values); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if err := yaml.Unmarshal(b, &cf.Doc); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return cf, nil
}

// checkKeys fails closed on a top-level key that is neither a flag nor one of extra, and on a
// flag's key given a list or map, naming the file and line (a misspelt key would otherwise be
// ignored).
func (cf *configFile) checkKeys(fs *flag.FlagSet, extra ...string) error {
	root := &cf.Doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i]
		name := strings.ReplaceAll(k.Value, "_", "-")
		if slices.Contains(extra, k.Value) {
			continue
		}
		if fs.Lookup(name) != nil && name != "config" {
			// A flag takes one value: a list or map given to it (view_token: with the entries
			// of view_tokens:) would otherwise become one secret, unscoped.
			if v := root.Content[i+1]; v.Kind != yaml.ScalarNode {
				hint := ""
				if slices.Contains(extra, k.Value+"s") {
					hint = fmt.Sprintf(" (the list of entries is %q)", k.Value+"s")
				}
				return fmt.Errorf("%s:%d: config key %q takes one value, not a list or map%s", cf.Path, k.Line, k.Value, hint)
			}
			continue
		}
		return fmt.Errorf("%s:%d: unknown config key %q", cf.Path, k.Line, k.Value)
	}
	return nil
}

// parseFlags parses args, then the environment and the config file named by --config.
func parseFlags(fs *flag.FlagSet, args []string, configFlag *string) (*configFile, error) {
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
	return file, applyEnvAndFile(fs, file.Values)
}
