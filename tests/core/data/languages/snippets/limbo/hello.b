implement Hello;

include "sys.m";
	sys: Sys;
include "draw.m";

init(nil: ref Draw->Context, nil: list of string)
{
	sys = load Sys Sys->PATH;
	sys->print("hello\n");
}
