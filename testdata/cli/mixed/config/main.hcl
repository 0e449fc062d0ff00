group "shop" {
  app "db" {
    cmd       = "exec ./db --port $PORT0"
    instances = 1
    cpus      = 0.5
    mem       = 512
  }

  app "api" {
    cmd        = "exec ./api --listen :$PORT0 --v2"
    instances  = 4
    cpus       = 0.25
    depends_on = ["db"]

    upgrade_strategy {
      minimum_health_capacity = 0.5
      maximum_over_capacity   = 0.25
    }
  }

  app "web" {
    cmd        = "exec ./web --port $PORT0"
    instances  = 4
    depends_on = ["api"]
  }

  app "cache" {
    cmd    = "exec ./cache"
    labels = { team = "storage", tier = "cache" }
  }

  app "search" {
    cmd       = "exec ./search"
    instances = 3
    constraint {
      attribute = "hostname"
      operator  = "UNIQUE"
    }
  }

  app "worker" {
    cmd        = "exec ./worker"
    instances  = 2
    cpus       = 0.1
    mem        = 64
    depends_on = ["db"]
  }
}
