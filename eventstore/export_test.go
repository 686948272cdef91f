package eventstore

// SetBeforeCommit installs a hook that runs inside every append transaction after its
// writes and before its commit; a non-nil error aborts that attempt.
func (s *Store) SetBeforeCommit(hook func(attempt int) error) { s.beforeCommit = hook }
