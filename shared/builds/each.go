package builds

import "golang.org/x/sync/errgroup"

// each calls f(i) for i from 0 to n-1, at most limit at once, and returns
// when all have: the one bounded pool of the package (index reads,
// deletions).
func each(n, limit int, f func(i int)) {
	var g errgroup.Group
	g.SetLimit(limit)
	for i := range n {
		g.Go(func() error { f(i); return nil })
	}
	_ = g.Wait() // f reports its own failures
}
