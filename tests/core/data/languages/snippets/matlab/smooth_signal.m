function y = smooth_signal(x, width)
% SMOOTH_SIGNAL moving average of x over a window of the given width.
if nargin < 2
    width = 5;
end
kernel = ones(1, width) / width;
y = conv(x, kernel, 'same');
end
