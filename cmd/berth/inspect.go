package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

// printInspect prints objects as Docker's inspect does: an indented JSON
// array (also for "json"), or the template once per object, over the
// JSON field names and values ({{.Id}}, {{.CreatedAt}} as RFC 3339), or
// the Go object's ({{.ID}}).
func printInspect(out io.Writer, format string, objs []any) error {
	if format == "" || format == "json" {
		if objs == nil {
			objs = []any{} // "[]", as Docker prints when none was found
		}
		b, err := json.MarshalIndent(objs, "", "    ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(out, string(b))
		return err
	}
	tmpl, err := parseTemplate("inspect", format)
	if err != nil {
		return err
	}
	strict, err := parseTemplate("inspect", format)
	if err != nil {
		return err
	}
	strict.Option("missingkey=error")
	for _, o := range objs {
		var m any
		b, err := json.Marshal(o)
		if err == nil {
			// Numbers stay as written (67108864, not 6.7108864e+07).
			d := json.NewDecoder(bytes.NewReader(b))
			d.UseNumber()
			err = d.Decode(&m)
		}
		if err != nil {
			return err
		}
		// The JSON's names first ({{.Id}}, times as RFC 3339); a name it
		// lacks is tried on the Go object ({{.ID}}), as Docker's CLI has
		// both; a name neither has prints "<no value>", as there.
		var buf bytes.Buffer
		if err := strict.Execute(&buf, m); err != nil {
			buf.Reset()
			if err := tmpl.Execute(&buf, o); err != nil {
				buf.Reset()
				if err := tmpl.Execute(&buf, m); err != nil {
					return fmt.Errorf("--format: %w", err)
				}
			}
		}
		if _, err := out.Write(buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// newObjectInspectCmd is the top-level `inspect`: containers first, then
// images, then volumes, as Docker looks them up; --type narrows it.
func newObjectInspectCmd(g *globals) *cobra.Command {
	var format, typ string
	var size bool
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NAME|ID [NAME|ID...]",
		Short: "Return low-level information on Berth objects",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch typ {
			case "", "container", "image", "volume":
			default:
				return fmt.Errorf("%q is not a valid value for --type", typ)
			}
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			var objs []any
			var errs []error
			for _, ref := range args {
				if typ == "" || typ == "container" {
					if j, err := e.InspectContainer(ref, size); err == nil {
						objs = append(objs, j)
						continue
					} else if typ != "" || !errors.Is(err, engine.ErrNoSuchContainer) {
						errs = append(errs, err)
						continue
					}
				}
				if typ == "" || typ == "image" {
					if j, err := e.InspectImage(ref); err == nil {
						objs = append(objs, j)
						continue
					} else if typ != "" {
						errs = append(errs, err)
						continue
					}
				}
				if typ == "" || typ == "volume" {
					if v, err := e.GetVolume(ref); err == nil {
						objs = append(objs, v)
						continue
					} else if typ != "" {
						errs = append(errs, err)
						continue
					}
				}
				errs = append(errs, fmt.Errorf("no such object: %s", ref))
			}
			if err := printInspect(cmd.OutOrStdout(), format, objs); err != nil {
				return err
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format output using a Go template or json")
	cmd.Flags().StringVar(&typ, "type", "", "only inspect objects of the given type (container, image, volume)")
	cmd.Flags().BoolVarP(&size, "size", "s", false, "display total file sizes if the type is container")
	return cmd
}

func newContainerInspectCmd(g *globals) *cobra.Command {
	var format string
	var size bool
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Display detailed information on one or more containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			var objs []any
			var errs []error
			for _, ref := range args {
				j, err := e.InspectContainer(ref, size)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				objs = append(objs, j)
			}
			if err := printInspect(cmd.OutOrStdout(), format, objs); err != nil {
				return err
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format output using a Go template or json")
	cmd.Flags().BoolVarP(&size, "size", "s", false, "display total file sizes")
	return cmd
}
