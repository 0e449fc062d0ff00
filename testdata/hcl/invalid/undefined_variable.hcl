variable "tag" {
  default = "1.4.2"
}

app "api" {
  cmd = "exec ./api --version ${var.tga}"
  env = { REGION = var.region }
}
