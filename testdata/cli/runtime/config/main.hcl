# Apps whose instances (and labels) are managed at runtime: an autoscaler
# scales them; the files keep their own starting values.
app "web" {
  cmd       = "exec ./web --port $PORT0 --v2"
  instances = 2
  labels    = { "com.example/owner" = "web-team" }

  lifecycle {
    ignore_changes = [instances]
  }
}

app "worker" {
  cmd       = "exec ./worker"
  instances = 1

  lifecycle {
    ignore_changes = ["instances", "labels"]
  }
}
