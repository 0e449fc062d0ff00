locals {
  env = "prod"
}

locals {
  env = "staging"
}

app "api" {
  cmd = local.env
}
