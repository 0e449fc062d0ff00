group "shop" {
  # Restarted (cmd changed): no agent has room for a new 1.5-cpu task before an
  # old one is gone, so the rollout kills first, one at a time.
  app "web" {
    cmd       = "exec ./web --port $PORT0 --v2"
    instances = 3
    cpus      = 1.5
    mem       = 128

    upgrade_strategy {
      minimum_health_capacity = 0.5
      maximum_over_capacity   = 0.34
    }
  }

  # Four instances, one per host, on three agents.
  app "search" {
    cmd       = "exec ./search"
    instances = 4
    cpus      = 0.1
    mem       = 32
    constraint {
      attribute = "hostname"
      operator  = "UNIQUE"
    }
  }

  # More cpus per task than any agent has free.
  app "big" {
    cmd  = "exec ./big"
    cpus = 2
    mem  = 32
  }

  # Four host ports per task; the agents have three free each.
  app "ports" {
    cmd  = "exec ./ports"
    cpus = 0.1
    mem  = 32
    port "a" {}
    port "b" {}
    port "c" {}
    port "d" {}
  }

  # A rack no agent is in.
  app "rack" {
    cmd  = "exec ./rack"
    cpus = 0.1
    mem  = 32
    constraint {
      attribute = "rack"
      operator  = "CLUSTER"
      value     = "r9"
    }
  }

  # A rack value no active agent has (the inactive agent-9 is in r3).
  app "zone" {
    cmd  = "exec ./zone"
    cpus = 0.1
    mem  = 32
    constraint {
      attribute = "rack"
      operator  = "IS"
      value     = "r3"
    }
  }
}
