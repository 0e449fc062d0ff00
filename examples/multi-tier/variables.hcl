variable "web_instances" {
  type        = number
  default     = 3
  description = "How many web servers to run."
}

variable "log_level" {
  type    = string
  default = "info"
}

locals {
  common_env = {
    LOG_LEVEL = var.log_level
  }
}
