module main

import os

struct Config {
	name string
mut:
	retries int
}

fn main() {
	mut cfg := Config{
		name: os.args[0]
	}
	cfg.retries = 3
	println('${cfg.name}: ${cfg.retries}')
}
