// atlas-sum-probe reports what Atlas's own library (ariga.io/atlas/sql/migrate, the version
// in go.mod: the one the production image runs) makes of migration directories, so our
// reimplementation in lib/migration/atlasSum.ts can be compared with it (test/integration/atlasSumRules.test.ts).
//
// Usage: atlas-sum-probe DIR...
//
// For each DIR it prints one JSON line:
//
//	{"dir": DIR,
//	 "files": [{"name": "...", "ignored": true|false}],  // LocalDir.Files(), in Atlas's order
//	 "filesError": "...",                                // when LocalDir.Files() fails
//	 "sum": "h1:...\n...",                               // NewHashFile(files).MarshalText()
//	 "recorded": {"entries": [{"name","hash"}], "error": "..."}, // HashFile.UnmarshalText(DIR/atlas.sum), when it exists
//	 "validate": {"ok": bool, "error": "...", "notFound": bool,
//	              "line": n, "file": "...", "reason": "added|edited|removed"}} // migrate.Validate(dir)
//
// "error" alone when DIR cannot be opened. Only the library's exported API is used: a file is
// sum-ignored when NewHashFile of that file alone has no line. A panic inside the library is reported as an error ("panic: ...").
// Exit status: 0 when every directory was reported, 2 on bad usage.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"ariga.io/atlas/sql/migrate"
)

type fileReport struct {
	Name    string `json:"name"`
	Ignored bool   `json:"ignored"`
}

type entry struct {
	Name string `json:"name"`
	Hash string `json:"hash"`
}

type recordedReport struct {
	Entries []entry `json:"entries"`
	Error   string  `json:"error,omitempty"`
}

type validateReport struct {
	OK       bool   `json:"ok"`
	Error    string `json:"error,omitempty"`
	NotFound bool   `json:"notFound,omitempty"`
	Line     int    `json:"line,omitempty"`
	File     string `json:"file,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

type report struct {
	Dir        string          `json:"dir"`
	Files      []fileReport    `json:"files"`
	FilesError string          `json:"filesError,omitempty"`
	Sum        *string         `json:"sum,omitempty"`
	SumError   string          `json:"sumError,omitempty"`
	Recorded   *recordedReport `json:"recorded,omitempty"`
	Validate   *validateReport `json:"validate,omitempty"`
	Error      string          `json:"error,omitempty"`
}

// guard turns a panic in the library into an error, so one directory cannot hide the others.
func guard(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return f()
}

func probe(path string) report {
	r := report{Dir: path, Files: []fileReport{}}
	dir, err := migrate.NewLocalDir(path)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	var files []migrate.File
	if err := guard(func() (err error) { files, err = dir.Files(); return err }); err != nil {
		r.FilesError = err.Error()
	}
	for _, f := range files {
		var alone migrate.HashFile
		if err := guard(func() (err error) { alone, err = migrate.NewHashFile([]migrate.File{f}); return err }); err != nil {
			r.Error = err.Error()
			return r
		}
		r.Files = append(r.Files, fileReport{Name: f.Name(), Ignored: len(alone) == 0})
	}
	if r.FilesError == "" {
		err := guard(func() error {
			sum, err := migrate.NewHashFile(files)
			if err != nil {
				return err
			}
			text, err := sum.MarshalText()
			if err != nil {
				return err
			}
			s := string(text)
			r.Sum = &s
			return nil
		})
		if err != nil {
			r.SumError = err.Error()
		}
	}
	if b, err := os.ReadFile(filepath.Join(path, migrate.HashFileName)); err == nil {
		var recorded migrate.HashFile
		rec := &recordedReport{Entries: []entry{}}
		if err := guard(func() error { return recorded.UnmarshalText(b) }); err != nil {
			rec.Error = err.Error()
		}
		for _, e := range recorded {
			rec.Entries = append(rec.Entries, entry{Name: e.N, Hash: e.H})
		}
		r.Recorded = rec
	}
	r.Validate = &validateReport{}
	if err := guard(func() error { return migrate.Validate(dir) }); err != nil {
		r.Validate.Error = err.Error()
		r.Validate.NotFound = errors.Is(err, migrate.ErrChecksumNotFound)
		var ce *migrate.ChecksumError
		if errors.As(err, &ce) {
			r.Validate.Line, r.Validate.File, r.Validate.Reason = ce.Line, ce.File, ce.Reason.String()
		}
	} else {
		r.Validate.OK = true
	}
	return r
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: atlas-sum-probe DIR...")
		os.Exit(2)
	}
	out := json.NewEncoder(os.Stdout)
	out.SetEscapeHTML(false)
	for _, path := range os.Args[1:] {
		if err := out.Encode(probe(path)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
