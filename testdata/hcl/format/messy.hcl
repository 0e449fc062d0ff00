variable "tag" {
type = string
    default="1.4.2"
}
group "shop" {
depends_on=["/infra"]
  app "api" {
      cmd = "exec ./api"
   instances=3
   cpus = 0.25
    env = {LOG_LEVEL="info", DB   = "db"}
  health_check {
  protocol = "HTTP"
        path="/health"
  }
  }
}
