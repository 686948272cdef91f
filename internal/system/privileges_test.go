package system

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/eventstore"
	"github.com/ordersaga/ordersaga/internal/dbtest"
	"github.com/ordersaga/ordersaga/projections"
	"github.com/ordersaga/ordersaga/sqldb"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// appGrants are the grants of a user that may only read and write rows, as
// docs/operating.md gives them for PostgreSQL.
const appGrants = `GRANT USAGE ON SCHEMA public TO %[1]s;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %[1]s;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %[1]s`

// TestTheRolesRunAsAUserThatMayOnlyReadAndWriteRows migrates as the schema's owner, then
// does what the long-running roles do as a user with appGrants only: open and "migrate"
// (nothing to do), append, publish, project, read, verify.
func TestTheRolesRunAsAUserThatMayOnlyReadAndWriteRows(t *testing.T) {
	ctx := context.Background()
	ownerURL := dbtest.NewDatabase(t)
	owner, err := sqldb.Open(ctx, sqldb.Config{URL: ownerURL})
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	if err := Migrate(ctx, owner); err != nil {
		t.Fatal(err)
	}
	user := "app_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	if _, err := owner.Exec(ctx, fmt.Sprintf(`CREATE ROLE %s LOGIN; `+appGrants, user)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { owner.Exec(ctx, fmt.Sprintf(`DROP OWNED BY %[1]s; DROP ROLE %[1]s`, user)) })
	app, err := sqldb.Open(ctx, sqldb.Config{URL: ownerURL + " user=" + user})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if err := Migrate(ctx, app); err != nil {
		t.Fatalf("a long-running role's migration of an up-to-date schema, as the app user: %v", err)
	}
	if _, err := app.Exec(ctx, `CREATE TABLE intruder (n INT8)`); err == nil {
		t.Fatal("the app user may create tables: its grants are wider than rows")
	}
	store := eventstore.New(app)
	stream := ordersaga.MustParseStream("customer-rw")
	e := ordersaga.EventData{ID: uuid.New(), Type: ordersaga.EventAccountCredited, Data: []byte(`{"customer_id":"rw","amount":5,"currency":"EUR"}`)}
	res, err := store.Append(ctx, stream, ordersaga.NoStream, []ordersaga.EventData{e})
	if err != nil {
		t.Fatalf("append as the app user: %v", err)
	}
	if err := store.MarkPublished(ctx, []int64{res.Events[0].Position}); err != nil {
		t.Fatalf("mark published as the app user: %v", err)
	}
	if err := projections.New(app, store, nil).Apply(ctx, res.Recorded(stream, []ordersaga.EventData{e})[0]); err != nil {
		t.Fatalf("project as the app user: %v", err)
	}
	report, err := projections.Verify(ctx, projections.NewReadModels(app), store, time.Hour)
	if err != nil || !report.OK() {
		t.Errorf("verify as the app user: %+v, %v", report, err)
	}
}
