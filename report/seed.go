package report

import (
	"bytes"
	_ "embed" // the seed document
)

// seed is a copy of config/testdata/seed-django-workers-results.md (a test
// keeps them equal): it ships in the binary as the default comparison of
// `benchd report --compare`, and go:embed cannot reach outside this
// package's directory.
//
//go:embed seed-django-workers-results.md
var seed []byte

// SeedName names the seed document in reports.
const SeedName = "seed (django-workers-results.md)"

// Seed returns the seed results document: wrk 4 runs of the reference
// Django project under four servers, 20 threads and 2000 connections, as
// teams pasted them by hand. The caller may keep and modify the slice.
func Seed() []byte { return bytes.Clone(seed) }
