# Nothing but a command: every other field keeps Marathon's default, including the
# one default port an app without port definitions gets.
app "web" {
  cmd = "python3 -m http.server $PORT0"
}
