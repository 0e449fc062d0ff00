group "shop" {
  group "backend" {
    app "api" {
      cmd        = "exec ./api"
      depends_on = ["..", "/shop", "/"]
    }
  }
}
