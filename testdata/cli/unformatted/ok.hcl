variable "replicas" {
  type    = number
  default = 1
}

variable "tag" {
  type    = string
  default = "1.0"
}

variable "region" {
  type    = string
  default = "eu-1"
}

app "api" {
  cmd       = "exec ./api-${var.tag} --region ${var.region}"
  instances = var.replicas
  cpus      = 0.5
}
