export { startNotificationService, type NotificationService, type NotificationServiceOptions } from './service';
