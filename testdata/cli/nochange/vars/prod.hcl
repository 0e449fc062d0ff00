region   = "us-1"
replicas = 2
