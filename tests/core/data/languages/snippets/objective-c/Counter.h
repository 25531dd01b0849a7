#import <Foundation/Foundation.h>

NS_ASSUME_NONNULL_BEGIN

@interface Counter : NSObject
@property (nonatomic, readonly) NSInteger value;
- (void)increment;
@end

NS_ASSUME_NONNULL_END
