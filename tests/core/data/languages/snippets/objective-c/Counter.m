#import "Counter.h"

@implementation Counter {
    NSInteger _value;
}

- (NSInteger)value {
    return _value;
}

- (void)increment {
    _value += 1;
}

@end
