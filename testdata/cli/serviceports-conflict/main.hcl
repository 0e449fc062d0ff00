# These files own /new only; /api (deployed, see ../serviceports/state.json)
# holds service port 10001.
stride {
  scope = "/new"
}

group "new" {
  app "web" {
    cmd = "exec ./web"

    port "http" {
      number = 10001
    }
  }
}
