app "api" {
  cmd = "exec ./api"

  deployment {
    progress_deadline = "5 minutes"
    auto_revert       = "yes"
  }

  backoff {
    give_up_after = -1
  }
}

app "web" {
  cmd = "exec ./web"

  deployment {
    progress_deadline = "200h"
    rollback          = true
  }

  backoff {
    give_up_after = 10001
  }
}

app "db" {
  cmd = "exec ./db"

  deployment {
    progress_deadline = "1500ms"
  }
}

app "cache" {
  cmd = "exec ./cache"

  deployment {
    progress_deadline = "0s"
  }
}
