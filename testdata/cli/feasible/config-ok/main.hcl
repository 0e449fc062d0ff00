group "shop" {
  app "web" {
    cmd       = "exec ./web --port $PORT0"
    instances = 3
    cpus      = 1.5
    mem       = 128

    upgrade_strategy {
      minimum_health_capacity = 0.5
      maximum_over_capacity   = 0.34
    }
  }

  app "search" {
    cmd       = "exec ./search"
    instances = 3
    cpus      = 0.1
    mem       = 32
    constraint {
      attribute = "hostname"
      operator  = "UNIQUE"
    }
  }
}
