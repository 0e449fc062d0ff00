group "shop" {
  app "api" {
    cmd       = "exec ./api"
    instances = -1
    cpus      = "lots"

    constraint {
      attribute = "hostname"
      operator  = "UNIQE"
    }

    health_check {
      protocol   = "HTTP"
      port_index = 3
    }

    upgrade_strategy {
      minimum_health_capacity = 1.5
    }
  }

  app "Web" {
    cmd        = "exec ./web"
    depends_on = ["apii"]
    memory     = 64
  }
}
