// Package topology describes the deployed shape of ordersaga: which roles run, as which
// ordersaga command with which flags, and how many of each at least. docker-compose.yml
// and the Kubernetes manifests in deploy/kubernetes are checked against it
// (cmd/ordersaga's tests), so that neither drifts from the other or from the binary.
package topology

// Role is one kind of ordersaga process.
type Role struct {
	// Name is the role's name: the compose service (with -1, -2, ... when there are
	// several) and the Kubernetes workload (ordersaga-<name>).
	Name string
	// Args are the ordersaga command and its flags.
	Args []string
	// Replicas is how many of it the deployed shape runs at least: two of every role
	// whose loss must not stop the system, one of those that may pause.
	Replicas int
	// OneShot roles run to completion before the others start (migrate).
	OneShot bool
	// Reader roles only receive events: they connect to NATS as the user that may not
	// publish them.
	Reader bool
}

// Roles is the deployed shape, in the order the roles start.
func Roles() []Role {
	return []Role{
		{Name: "migrate", Args: []string{"migrate"}, Replicas: 1, OneShot: true},
		{Name: "worker", Args: []string{"worker"}, Replicas: 2},
		{Name: "relay", Args: []string{"relay"}, Replicas: 2},
		{Name: "projector", Args: []string{"projector", "--reconcile-every", "30s"}, Replicas: 2, Reader: true},
		{Name: "api", Args: []string{"api"}, Replicas: 1},
		{Name: "restaurant", Args: []string{"restaurant", "--restaurant-delay", "3s", "--unavailable", "sold-out"}, Replicas: 1, Reader: true},
		{Name: "monitor", Args: []string{"monitor", "--every", "30s"}, Replicas: 1},
	}
}

// Named returns the role named name, and whether there is one.
func Named(name string) (Role, bool) {
	for _, r := range Roles() {
		if r.Name == name {
			return r, true
		}
	}
	return Role{}, false
}
