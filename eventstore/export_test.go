package eventstore

// ClaimSQL is Claim's statement, for tests that ask the database how it runs it.
const ClaimSQL = claimSQL
