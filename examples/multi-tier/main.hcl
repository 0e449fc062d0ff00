# A three-tier service: a database in /infra, an API and a web front end in /shop.
# /shop waits for all of /infra; web waits for api. Every tier is health-checked,
# and placement rules spread the instances over the agents and racks.
#
#   stride dev examples/multi-tier
#
# The apps are small Python HTTP servers (python3 -m http.server), standing in
# for real services.

group "infra" {
  app "db" {
    cmd       = "exec python3 -m http.server --bind 0.0.0.0 $PORT0"
    instances = 1
    cpus      = 0.5
    mem       = 256
    env       = local.common_env

    port "db" {}

    health_check {
      protocol                 = "TCP"
      port_name                = "db"
      grace_period_seconds     = 10
      interval_seconds         = 2
      timeout_seconds          = 1
      max_consecutive_failures = 3
    }
  }
}

group "shop" {
  depends_on = ["/infra"] # every app in /shop waits for all of /infra

  app "api" {
    cmd       = "exec python3 -m http.server --bind 0.0.0.0 $PORT0"
    instances = 2
    cpus      = 0.25
    mem       = 128
    env       = merge(local.common_env, { DB = "db-infra.service.consul" })
    labels    = { team = "payments" }

    port "http" {}

    constraint {
      attribute = "hostname"
      operator  = "UNIQUE"
    }

    health_check {
      protocol                 = "HTTP"
      port_name                = "http"
      path                     = "/"
      grace_period_seconds     = 10
      interval_seconds         = 2
      timeout_seconds          = 1
      max_consecutive_failures = 3
    }

    # One instance per agent: there is no spare agent for a new instance while
    # the old ones run, so roll by stopping one old instance at a time.
    upgrade_strategy {
      minimum_health_capacity = 0.5
      maximum_over_capacity   = 0
    }
  }

  app "web" {
    cmd        = "exec python3 -m http.server --bind 0.0.0.0 $PORT0"
    instances  = var.web_instances
    cpus       = 0.1
    mem        = 64
    env        = merge(local.common_env, { API = "api-shop.service.consul" })
    depends_on = ["api"] # relative to the group: /shop/api

    port "http" {}

    constraints = [["rack_id", "GROUP_BY", "2"]]

    health_check {
      protocol             = "HTTP"
      port_index           = 0
      grace_period_seconds = 10
      interval_seconds     = 2
      timeout_seconds      = 1
    }

    upgrade_strategy {
      minimum_health_capacity = 0.5
      maximum_over_capacity   = 0.5
    }

    backoff {
      backoff_seconds          = 1
      backoff_factor           = 2
      max_launch_delay_seconds = 60
    }
  }
}
