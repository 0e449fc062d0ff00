group "shop" {
  app "tasks" {
    cmd = "exec ./tasks"
  }
}
