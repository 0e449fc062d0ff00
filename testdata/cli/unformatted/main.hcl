app "a" {
cmd="x"
    instances   = 2
}
