# An app's dependencies are its own plus those of every enclosing group, absolute,
# sorted and unique.
group "infra" {
  app "cache" {
    cmd = "exec ./cache"
  }
}

group "shop" {
  depends_on = ["infra"]
  labels     = { owner = "shop" }

  app "db" {
    cmd = "exec ./db"
  }

  group "backend" {
    depends_on = ["db", "/infra/cache"]

    app "api" {
      cmd        = "exec ./api"
      depends_on = ["../db", "worker", "/infra"]
    }

    app "worker" {
      cmd = "exec ./worker"
    }
  }
}
