Hello: module
{
	init: fn(ctxt: ref Draw->Context, argv: list of string);
};
